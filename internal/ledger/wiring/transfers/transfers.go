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
	// Loads (Query), and each step's guarded transaction of conditional
	// puts. (What its event source mapping needs, the template derives
	// from the mapping.)
	Grants: []wiring.Grant{
		{Resource: "EventsTable", Actions: []string{"dynamodb:PutItem", "dynamodb:Query"}},
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
