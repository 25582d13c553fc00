// Fanout is the Lambda that publishes the events table's commits to Kinesis.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"annals/internal/awsconfig"
	"annals/internal/fanout"
)

func main() {
	awsconfig.Start(func(_ context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
		h := fanout.New(fanout.Config{
			Kinesis: kinesis.NewFromConfig(cfg),
			Stream:  env.Required("STREAM_NAME"),
			Log:     awsconfig.Logger(),
		})
		return h.Handle, nil
	})
}
