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
// wiring. It is a function, not a map variable, so that a Lambda binary
// links only its own function's code: a package-level map of every wiring
// would keep every handler, and its SDK clients, in every binary.
func Functions() map[string]awsconfig.Wire {
	return map[string]awsconfig.Wire{
		"CommandFunction":   Command,
		"FanoutFunction":    Fanout,
		"ProjectorFunction": Projector,
		"QueryFunction":     Query,
		"TransfersFunction": Transfers,
	}
}

// Command wires the command routes.
func Command(ctx context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
	return wire("CommandFunction", command)(ctx, env, cfg)
}

// Fanout wires the publisher of commits to Kinesis.
func Fanout(ctx context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
	return wire("FanoutFunction", fanoutFunction)(ctx, env, cfg)
}

// Projector wires every read model behind the events stream.
func Projector(ctx context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
	return wire("ProjectorFunction", projector)(ctx, env, cfg)
}

// Query wires the read routes.
func Query(ctx context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
	return wire("QueryFunction", query)(ctx, env, cfg)
}

// builder builds a function's handler from its environment, read through
// its manifest.
type builder func(ctx context.Context, v *vars, cfg aws.Config) (any, error)

func wire(function string, b builder) awsconfig.Wire {
	return func(ctx context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
		v := newVars(function, env)
		h, err := b(ctx, v, cfg)
		if mErr := v.err(); mErr != nil {
			return nil, mErr
		}
		return h, err
	}
}

// newID generates the ids of events and commands: UUIDv7, time-ordered.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// auth reads how callers are identified: the tenant claim, or, for a
// local run without an authorizer, a fixed tenant and actor.
func auth(v *vars) httpapi.Auth {
	return httpapi.Auth{
		TenantClaim: v.optional(envTenantClaim, "tenant"),
		LocalTenant: v.optional(envLocalTenant, ""),
		LocalActor:  v.optional(envLocalActor, ""),
	}
}

func command(_ context.Context, v *vars, cfg aws.Config) (any, error) {
	eventsTable := v.required(envEventsTable)
	idempotencyTable := v.required(envIdempotencyTable)
	snapshotEvery := v.int(envSnapshotEvery, eventstore.DefaultSnapshotEvery)
	db := dynamodb.NewFromConfig(cfg)
	log := v.env.Logger()
	store := eventstore.New(dynamostore.New(db, eventsTable),
		eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithIDs(newID), eventstore.WithLogger(log))
	h := commandapi.New(commandapi.Config{
		Store:       store,
		Idempotency: idempotency.NewDynamoDB(db, idempotencyTable),
		Auth:        auth(v),
		Now:         time.Now,
		NewID:       newID,
		Log:         log,
	})
	return h.Handle, nil
}

func fanoutFunction(_ context.Context, v *vars, cfg aws.Config) (any, error) {
	h := fanout.New(fanout.Config{
		Kinesis: kinesis.NewFromConfig(cfg),
		Stream:  v.required(envStreamName),
		Log:     v.env.Logger(),
	})
	return h.Handle, nil
}

func projector(_ context.Context, v *vars, cfg aws.Config) (any, error) {
	accountsTable := v.required(envAccountsTable)
	historyTable := v.required(envHistoryTable)
	transfersTable := v.required(envTransfersTable)
	eventsTable := v.required(envEventsTable)
	queueURL := v.required(envDeadLetterQueue)
	db := dynamodb.NewFromConfig(cfg)
	log := v.env.Logger()
	events := eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithLogger(log))
	dead := projection.NewDeadLetters(sqs.NewFromConfig(cfg), queueURL)
	return projection.NewHandler(dead, log,
		projection.NewAccounts(projection.NewDynamoAccounts(db, accountsTable), events, dead, log),
		projection.NewHistory(projection.NewDynamoHistory(db, historyTable), events, dead, log),
		projection.NewTransfers(projection.NewDynamoTransfers(db, transfersTable), events, dead, log),
	).Handle, nil
}

// query reads the query tables through a read-only, metered client, and
// the events table for time travel and the audit trail.
func query(_ context.Context, v *vars, cfg aws.Config) (any, error) {
	eventsTable := v.required(envEventsTable)
	accountsTable := v.required(envAccountsTable)
	historyTable := v.required(envHistoryTable)
	transfersTable := v.required(envTransfersTable)
	snapshotEvery := v.int(envSnapshotEvery, eventstore.DefaultSnapshotEvery)
	db := dynamodb.NewFromConfig(cfg)
	views := queryapi.ReadOnlyDynamoDB{DB: db}
	log := v.env.Logger()
	h := queryapi.New(queryapi.Config{
		// K sets how far back a load looks for a snapshot: the same as the
		// command function's.
		Store:    eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithLogger(log)),
		Accounts: projection.NewDynamoAccounts(views, accountsTable),
		History:  projection.NewDynamoHistory(views, historyTable),
		Auth:     auth(v),
		NewID:    newID,
		Log:      log,

		// Ended transfers from the view, pending ones from their streams.
		Transfers: projection.NewDynamoTransfers(views, transfersTable),
	})
	return h.Handle, nil
}
