// Package transfers wires TransfersFunction, the transfers process manager.
package transfers

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/eventstore"
	"annals/internal/eventstore/dynamostore"
	"annals/internal/transfer"
	"annals/internal/wiring"
)

// Wire builds the process manager's handler from its environment.
var Wire = wiring.Function("TransfersFunction", build)

// build drives transfers with guarded multi-stream commits on the events
// table. Its loads go through snapshots like the command function's, with
// the same K.
func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	eventsTable := v.Required(wiring.EnvEventsTable)
	snapshotEvery := v.Int(wiring.EnvSnapshotEvery, eventstore.DefaultSnapshotEvery)
	log := v.Logger()
	store := eventstore.New(dynamostore.New(dynamodb.NewFromConfig(cfg), eventsTable),
		eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithIDs(wiring.NewID), eventstore.WithLogger(log))
	return transfer.NewHandler(transfer.NewManager(store, log, 0), log).Handle, nil
}
