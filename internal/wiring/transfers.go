package wiring

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/awsconfig"
	"annals/internal/eventstore"
	"annals/internal/eventstore/dynamostore"
	"annals/internal/transfer"
)

// Transfers wires the transfers process manager.
func Transfers(ctx context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
	return wire("TransfersFunction", transfers)(ctx, env, cfg)
}

// transfers drives transfers with guarded multi-stream commits on the
// events table. Its loads go through snapshots like the command
// function's, with the same K.
func transfers(_ context.Context, v *vars, cfg aws.Config) (any, error) {
	eventsTable := v.required(envEventsTable)
	snapshotEvery := v.int(envSnapshotEvery, eventstore.DefaultSnapshotEvery)
	log := v.env.Logger()
	store := eventstore.New(dynamostore.New(dynamodb.NewFromConfig(cfg), eventsTable),
		eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithIDs(newID), eventstore.WithLogger(log))
	return transfer.NewHandler(transfer.NewManager(store, log, 0), log).Handle, nil
}
