// Package transfers wires TransfersFunction, the transfers process manager.
package transfers

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/wiring"
	"annals/internal/ledger/app"
	"annals/internal/ledger/env"
	"annals/internal/ledger/processapi"
	"annals/internal/ledger/wiring/eventsdb"
)

// ID is the function's logical id in template.yaml.
const ID = "TransfersFunction"

// Manifest is what the function reads and may do; template.yaml is held to
// it exactly.
var Manifest = wiring.Manifest{
	Env: []wiring.Var{
		{Name: env.EventsTable, Ref: "EventsTable"},
		{Name: env.SnapshotEvery},
	},
	Grants: []wiring.Grant{
		// Loads (Query), the read-back after a lost answer (GetItem),
		// and each step's guarded transaction of conditional puts.
		{Resource: "EventsTable", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}},
		// The event source mapping's on-failure destination sends the
		// batches given up on with the function's role.
		{Resource: "TransfersDeadLetterQueue", Actions: []string{"sqs:SendMessage"}},
	},
}

// Wire builds the function's handler from its environment.
var Wire = wiring.Function(ID, Manifest, build)

// build drives transfers with guarded multi-stream commits on the events
// table.
func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	return processapi.NewHandler(Manager(v, cfg), v.Logger()).Handle, nil
}

// Manager is the process manager as the function runs it: its loads go
// through snapshots like the command function's, with the same K. The
// sweeper of the CLI drives transfers with this very manager.
func Manager(v *wiring.Vars, cfg aws.Config) *app.Manager {
	return app.NewManager(eventsdb.FromEnv(v, dynamodb.NewFromConfig(cfg)), v.Logger(), 0)
}
