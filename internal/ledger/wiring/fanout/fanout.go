// Package fanout wires FanoutFunction, the publisher of commits to Kinesis.
package fanout

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/fanout"
	"annals/internal/kit/sqsqueue"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/env"
)

// ID is the function's logical id in template.yaml.
const ID = "FanoutFunction"

// Manifest is what the function reads and may do: put commits on the
// events stream, and a letter on its own queue for each commit it skips.
// template.yaml is held to it exactly.
var Manifest = wiring.Manifest{
	Env: []wiring.Var{
		{Name: env.StreamName, Ref: "EventsStream"},
		{Name: env.SkippedQueue, Ref: "FanoutSkippedQueue"},
	},
	Grants: []wiring.Grant{
		{Resource: "EventsStream", Actions: []string{"kinesis:PutRecords"}},
		{Resource: "FanoutSkippedQueue", Actions: []string{"sqs:SendMessage"}},
	},
}

// Wire builds the function's handler from its environment.
var Wire = wiring.Function(ID, Manifest, build)

func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	h := fanout.New(fanout.Config{
		Kinesis: kinesis.NewFromConfig(cfg),
		Stream:  v.Required(env.StreamName),
		Skipped: sqsqueue.New(sqs.NewFromConfig(cfg), v.Required(env.SkippedQueue)),
		Log:     v.Logger(),
	})
	return h.Handle, nil
}
