// Package fanout wires FanoutFunction, the publisher of commits to Kinesis.
package fanout

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"annals/internal/kit/fanout"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/registry"
)

// Wire builds the fanout function's handler from its environment.
var Wire = registry.Function("FanoutFunction", build)

func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	h := fanout.New(fanout.Config{
		Kinesis: kinesis.NewFromConfig(cfg),
		Stream:  v.Required(registry.EnvStreamName),
		Log:     v.Logger(),
	})
	return h.Handle, nil
}
