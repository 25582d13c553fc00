// Package query wires QueryFunction, the ledger's read routes.
package query

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/registry"
	"annals/internal/ledger/views"
)

// Wire builds the query function's handler from its environment.
var Wire = registry.Function("QueryFunction", build)

// build reads the query tables through a read-only, metered client, and
// the events table for time travel and the audit trail.
func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	eventsTable := v.Required(registry.EnvEventsTable)
	accountsTable := v.Required(registry.EnvAccountsTable)
	historyTable := v.Required(registry.EnvHistoryTable)
	transfersTable := v.Required(registry.EnvTransfersTable)
	snapshotEvery := v.Int(registry.EnvSnapshotEvery, eventstore.DefaultSnapshotEvery)
	db := dynamodb.NewFromConfig(cfg)
	readOnly := queryapi.ReadOnlyDynamoDB{DB: db}
	log := v.Logger()
	h := queryapi.New(queryapi.Config{
		// K sets how far back a load looks for a snapshot: the same as the
		// command function's.
		Store:    eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithLogger(log)),
		Accounts: views.NewDynamoAccounts(readOnly, accountsTable),
		History:  views.NewDynamoHistory(readOnly, historyTable),
		Auth:     registry.Auth(v),
		NewID:    wiring.NewID,
		Log:      log,

		// Ended transfers from the view, pending ones from their streams.
		Transfers: views.NewDynamoTransfers(readOnly, transfersTable),
	})
	return h.Handle, nil
}
