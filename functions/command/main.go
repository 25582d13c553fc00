// Command is the Lambda behind the ledger's command routes.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"annals/internal/awsconfig"
	"annals/internal/commandapi"
	"annals/internal/eventstore"
	"annals/internal/eventstore/dynamostore"
	"annals/internal/httpapi"
	"annals/internal/idempotency"
)

func main() {
	awsconfig.Start(func(_ context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
		eventsTable := env.Required("EVENTS_TABLE")
		idempotencyTable := env.Required("IDEMPOTENCY_TABLE")
		snapshotEvery := env.Int("SNAPSHOT_EVERY", eventstore.DefaultSnapshotEvery)
		auth := httpapi.Auth{
			TenantClaim: env.Optional("TENANT_CLAIM", "tenant"),
			LocalTenant: env.Optional("LOCAL_TENANT", ""),
			LocalActor:  env.Optional("LOCAL_ACTOR", ""),
		}
		db := dynamodb.NewFromConfig(cfg)
		log := awsconfig.Logger()
		newID := func() string { return uuid.Must(uuid.NewV7()).String() }
		store := eventstore.New(dynamostore.New(db, eventsTable),
			eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithIDs(newID), eventstore.WithLogger(log))
		h := commandapi.New(commandapi.Config{
			Store:       store,
			Idempotency: idempotency.NewDynamoDB(db, idempotencyTable),
			Auth:        auth,
			Now:         time.Now,
			NewID:       newID,
			Log:         log,
		})
		return h.Handle, nil
	})
}
