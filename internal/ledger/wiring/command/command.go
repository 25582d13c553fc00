// Package command wires CommandFunction, the ledger's command routes.
package command

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/idempotency"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/commandapi"
	"annals/internal/ledger/registry"
)

// Wire builds the command function's handler from its environment.
var Wire = registry.Function("CommandFunction", build)

func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	eventsTable := v.Required(registry.EnvEventsTable)
	idempotencyTable := v.Required(registry.EnvIdempotencyTable)
	snapshotEvery := v.Int(registry.EnvSnapshotEvery, eventstore.DefaultSnapshotEvery)
	db := dynamodb.NewFromConfig(cfg)
	log := v.Logger()
	store := eventstore.New(dynamostore.New(db, eventsTable),
		eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithIDs(wiring.NewID), eventstore.WithLogger(log))
	h := commandapi.New(commandapi.Config{
		Store:       store,
		Idempotency: idempotency.NewDynamoDB(db, idempotencyTable),
		Auth:        registry.Auth(v),
		Now:         time.Now,
		NewID:       wiring.NewID,
		Log:         log,
	})
	return h.Handle, nil
}
