// Command is the Lambda behind the ledger's command routes.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
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
	h, err := wire(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func wire(ctx context.Context) (*commandapi.Handler, error) {
	var env awsconfig.Env
	eventsTable := env.Required("EVENTS_TABLE")
	idempotencyTable := env.Required("IDEMPOTENCY_TABLE")
	snapshotEvery := env.Int("SNAPSHOT_EVERY", eventstore.DefaultSnapshotEvery)
	auth := httpapi.Auth{
		TenantClaim: env.Optional("TENANT_CLAIM", "tenant"),
		LocalTenant: env.Optional("LOCAL_TENANT", ""),
		LocalActor:  env.Optional("LOCAL_ACTOR", ""),
	}
	if err := env.Err(); err != nil {
		return nil, err
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	db := dynamodb.NewFromConfig(cfg)
	log := awsconfig.Logger()
	newID := func() string { return uuid.Must(uuid.NewV7()).String() }
	store := eventstore.New(dynamostore.New(db, eventsTable),
		eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithIDs(newID), eventstore.WithLogger(log))
	return commandapi.New(commandapi.Config{
		Store:       store,
		Idempotency: idempotency.NewDynamoDB(db, idempotencyTable),
		Auth:        auth,
		Now:         time.Now,
		NewID:       newID,
		Log:         log,
	}), nil
}
