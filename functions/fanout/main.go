// Fanout is the Lambda that publishes the events table's commits to Kinesis.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"annals/internal/awsconfig"
	"annals/internal/fanout"
)

func main() {
	h, err := wire(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func wire(ctx context.Context) (*fanout.Handler, error) {
	var env awsconfig.Env
	stream := env.Required("STREAM_NAME")
	if err := env.Err(); err != nil {
		return nil, err
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return fanout.New(fanout.Config{
		Kinesis: kinesis.NewFromConfig(cfg),
		Stream:  stream,
		Log:     awsconfig.Logger(),
	}), nil
}
