// Package eventsdb builds the ledger's events store, one way for every
// function that reads or writes it and for the operator's tool, so that
// their options cannot drift apart.
package eventsdb

import (
	"log/slog"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/app"
	"annals/internal/ledger/env"
)

// Vars are the variables Store reads, for the manifests of the functions
// that use it; the table's grants are each function's own.
var Vars = []wiring.Var{
	{Name: env.EventsTable, Ref: "EventsTable"},
	{Name: env.SnapshotEvery},
}

// FromEnv returns the events store over the table the function's
// environment names, with its snapshot interval and opts.
func FromEnv(v *wiring.Vars, db dynamostore.API, opts ...eventstore.Option) *eventstore.Store {
	table := v.Required(env.EventsTable)
	k := v.Int(env.SnapshotEvery, eventstore.DefaultSnapshotEvery)
	return Store(db, table, k, v.Logger(), opts...)
}

// Store returns the events store over a DynamoDB table: a snapshot every
// snapshotEvery events (which also sets how far back a load looks for
// one, so every reader must use the writers' K), time-ordered ids, and
// what the store recovers from by itself logged to log; events are read
// through the ledger's catalogue of event types (app.Schemas), in their
// current shape.
func Store(db dynamostore.API, table string, snapshotEvery int, log *slog.Logger, opts ...eventstore.Option) *eventstore.Store {
	return eventstore.New(dynamostore.New(db, table), append([]eventstore.Option{
		eventstore.WithSnapshotEvery(int64(snapshotEvery)), eventstore.WithIDs(wiring.NewID), eventstore.WithLogger(log),
		eventstore.WithUpcaster(app.Schemas.Upcaster())}, opts...)...)
}
