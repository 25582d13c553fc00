// Package wiring builds every function's handler from its environment: the
// one place a Lambda's main and a local run of the whole stack share, so
// that both serve exactly the same code.
package wiring

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"annals/internal/awsconfig"
	"annals/internal/commandapi"
	"annals/internal/eventstore"
	"annals/internal/eventstore/dynamostore"
	"annals/internal/fanout"
	"annals/internal/httpapi"
	"annals/internal/idempotency"
	"annals/internal/projection"
	"annals/internal/queryapi"
)

// Functions maps each function's logical id in template.yaml to its
// wiring.
var Functions = map[string]awsconfig.Wire{
	"CommandFunction":   Command,
	"FanoutFunction":    Fanout,
	"ProjectorFunction": Projector,
	"QueryFunction":     Query,
}

// newID generates the ids of events and commands: UUIDv7, time-ordered.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// auth reads how callers are identified: the tenant claim, or, for a
// local run without an authorizer, a fixed tenant and actor.
func auth(env *awsconfig.Env) httpapi.Auth {
	return httpapi.Auth{
		TenantClaim: env.Optional("TENANT_CLAIM", "tenant"),
		LocalTenant: env.Optional("LOCAL_TENANT", ""),
		LocalActor:  env.Optional("LOCAL_ACTOR", ""),
	}
}

// Command wires the command routes.
func Command(_ context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
	eventsTable := env.Required("EVENTS_TABLE")
	idempotencyTable := env.Required("IDEMPOTENCY_TABLE")
	snapshotEvery := env.Int("SNAPSHOT_EVERY", eventstore.DefaultSnapshotEvery)
	db := dynamodb.NewFromConfig(cfg)
	log := env.Logger()
	store := eventstore.New(dynamostore.New(db, eventsTable),
		eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithIDs(newID), eventstore.WithLogger(log))
	h := commandapi.New(commandapi.Config{
		Store:       store,
		Idempotency: idempotency.NewDynamoDB(db, idempotencyTable),
		Auth:        auth(env),
		Now:         time.Now,
		NewID:       newID,
		Log:         log,
	})
	return h.Handle, nil
}

// Fanout wires the publisher of commits to Kinesis.
func Fanout(_ context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
	h := fanout.New(fanout.Config{
		Kinesis: kinesis.NewFromConfig(cfg),
		Stream:  env.Required("STREAM_NAME"),
		Log:     env.Logger(),
	})
	return h.Handle, nil
}

// Projector wires every read model behind the events stream.
func Projector(_ context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
	accountsTable := env.Required("ACCOUNTS_TABLE")
	historyTable := env.Required("HISTORY_TABLE")
	eventsTable := env.Required("EVENTS_TABLE")
	queueURL := env.Required("DEAD_LETTER_QUEUE_URL")
	db := dynamodb.NewFromConfig(cfg)
	log := env.Logger()
	events := eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithLogger(log))
	dead := projection.NewDeadLetters(sqs.NewFromConfig(cfg), queueURL)
	return projection.NewHandler(dead, log,
		projection.NewAccounts(projection.NewDynamoAccounts(db, accountsTable), events, dead, log),
		projection.NewHistory(projection.NewDynamoHistory(db, historyTable), events, dead, log),
	).Handle, nil
}

// Query wires the read routes: the query tables through a read-only,
// metered client, the events table for time travel and the audit trail.
func Query(_ context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
	eventsTable := env.Required("EVENTS_TABLE")
	accountsTable := env.Required("ACCOUNTS_TABLE")
	historyTable := env.Required("HISTORY_TABLE")
	snapshotEvery := env.Int("SNAPSHOT_EVERY", eventstore.DefaultSnapshotEvery)
	db := dynamodb.NewFromConfig(cfg)
	views := queryapi.ReadOnlyDynamoDB{DB: db}
	log := env.Logger()
	h := queryapi.New(queryapi.Config{
		// K sets how far back a load looks for a snapshot: the same as the
		// command function's.
		Store:    eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithLogger(log)),
		Accounts: projection.NewDynamoAccounts(views, accountsTable),
		History:  projection.NewDynamoHistory(views, historyTable),
		Auth:     auth(env),
		NewID:    newID,
		Log:      log,
	})
	return h.Handle, nil
}
