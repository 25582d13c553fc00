// Package fanout wires FanoutFunction, the publisher of commits to Kinesis.
package fanout

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"annals/internal/kit/fanout"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/env"
)

// ID is the function's logical id in template.yaml.
const ID = "FanoutFunction"

// Manifest is what the function reads and may do; template.yaml is held to
// it exactly.
var Manifest = wiring.Manifest{
	Env:    []wiring.Var{{Name: env.StreamName, Ref: "EventsStream"}},
	Grants: []wiring.Grant{{Resource: "EventsStream", Actions: []string{"kinesis:PutRecords"}}},
}

// Wire builds the function's handler from its environment.
var Wire = wiring.Function(ID, Manifest, build)

func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	h := fanout.New(fanout.Config{
		Kinesis: kinesis.NewFromConfig(cfg),
		Stream:  v.Required(env.StreamName),
		Log:     v.Logger(),
	})
	return h.Handle, nil
}
