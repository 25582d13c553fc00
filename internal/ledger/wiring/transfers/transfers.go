// Package transfers wires TransfersFunction, the transfers process manager.
package transfers

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/registry"
	"annals/internal/ledger/transfer"
)

// Wire builds the process manager's handler from its environment.
var Wire = registry.Function("TransfersFunction", build)

// build drives transfers with guarded multi-stream commits on the events
// table. Its loads go through snapshots like the command function's, with
// the same K.
func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	eventsTable := v.Required(registry.EnvEventsTable)
	snapshotEvery := v.Int(registry.EnvSnapshotEvery, eventstore.DefaultSnapshotEvery)
	log := v.Logger()
	store := eventstore.New(dynamostore.New(dynamodb.NewFromConfig(cfg), eventsTable),
		eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithIDs(wiring.NewID), eventstore.WithLogger(log))
	return transfer.NewHandler(transfer.NewManager(store, log, 0), log).Handle, nil
}
