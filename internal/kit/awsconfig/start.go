package awsconfig

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// Wire builds a function's handler once, at start-up: it reads the
// environment through env and builds the handler from the SDK
// configuration.
type Wire func(ctx context.Context, env *Env, cfg aws.Config) (handler any, err error)

// Build runs wire and returns its handler, or every configuration problem
// env collected, or wire's own error.
func Build(ctx context.Context, wire Wire, env *Env, cfg aws.Config) (any, error) {
	h, err := wire(ctx, env, cfg)
	if envErr := env.Err(); envErr != nil {
		return nil, envErr
	}
	return h, err
}

// Start wires a function with the configuration Lambda gives it
// (LoadLambda) and serves its events. A missing or malformed variable, or
// any wiring error, ends the process with its message before the first
// event, instead of failing every invocation.
func Start(wire Wire) {
	cfg, err := LoadLambda()
	if err != nil {
		fail(fmt.Errorf("aws config: %w", err))
	}
	h, err := Build(context.Background(), wire, &Env{}, cfg)
	if err != nil {
		fail(err)
	}
	lambda.Start(h)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
