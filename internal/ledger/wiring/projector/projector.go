// Package projector wires ProjectorFunction, every read model behind the
// events stream.
package projector

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/projection"
	"annals/internal/kit/sqsqueue"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/env"
	"annals/internal/ledger/views"
	"annals/internal/ledger/wiring/eventsdb"
)

// ID is the function's logical id in template.yaml.
const ID = "ProjectorFunction"

// Manifest is what the function reads and may do: every view reads its
// positions and writes state and position in one conditional write, a gap
// is filled from the events table, poison goes to the dead-letter queue.
// template.yaml is held to it exactly.
var Manifest = func() wiring.Manifest {
	m := wiring.Manifest{
		Env: []wiring.Var{
			{Name: env.EventsTable, Ref: "EventsTable"},
			{Name: env.DeadLetterQueue, Ref: "ProjectorDeadLetterQueue"},
		},
		Grants: []wiring.Grant{
			{Resource: "EventsTable", Actions: []string{"dynamodb:Query"}},
			{Resource: "ProjectorDeadLetterQueue", Actions: []string{"sqs:SendMessage"}},
		},
	}
	for _, v := range views.All {
		m.Env = append(m.Env, wiring.Var{Name: v.Env, Ref: v.Table})
		m.Grants = append(m.Grants, wiring.Grant{Resource: v.Table, Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}})
	}
	return m
}()

// Wire builds the function's handler from its environment.
var Wire = wiring.Function(ID, Manifest, build)

// build feeds every view of the registry, each over its own table.
func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	eventsTable := v.Required(env.EventsTable)
	queueURL := v.Required(env.DeadLetterQueue)
	db := dynamodb.NewFromConfig(cfg)
	log := v.Logger()
	// The projector reads events as recorded and loads no aggregate: no
	// snapshots are written or looked for.
	store := eventsdb.Store(db, eventsTable, 0, log)
	dead := projection.NewDeadLetters(sqsqueue.New(sqs.NewFromConfig(cfg), queueURL))
	var fed []projection.View
	for _, view := range views.All {
		fed = append(fed, view.New(db, v.Required(view.Env), store, dead, log))
	}
	return projection.NewHandler(views.Decode, dead, log, fed...).WithMetrics(v.Metrics(env.MetricsNamespace)).Handle, nil
}
