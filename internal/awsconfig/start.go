package awsconfig

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// Start wires a function once, at start-up, and serves its events: wire
// reads the environment through env and builds the handler from the SDK
// configuration. A missing or malformed variable, or any wiring error, ends
// the process with its message before the first event, instead of failing
// every invocation.
func Start(wire func(ctx context.Context, env *Env, cfg aws.Config) (handler any, err error)) {
	ctx := context.Background()
	cfg, err := Load(ctx)
	if err != nil {
		fail(fmt.Errorf("aws config: %w", err))
	}
	var env Env
	h, err := wire(ctx, &env, cfg)
	if envErr := env.Err(); envErr != nil {
		fail(envErr)
	}
	if err != nil {
		fail(err)
	}
	lambda.Start(h)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
