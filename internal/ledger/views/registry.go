package views

import (
	"context"
	"log/slog"
	"net/url"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/rebuild"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/app"
	"annals/internal/ledger/env"
)

// Definition is one read model of the ledger: what the projector feeds,
// the query function reads, a rebuild replaces and a redrive lifts.
type Definition struct {
	// Name names it in logs, dead letters and the CLI.
	Name string
	// Category is the kind of stream it keeps.
	Category string
	// Table is its table's logical id in template.yaml.
	Table string
	// Env is the variable the functions read its table's name from.
	Env string
	// Parameter is the template parameter that names a rebuilt table to
	// serve in its place (docs/operations.md).
	Parameter string
	// QueryGrants are what the query function does on its table (the
	// projector reads and writes it by the conditional writes every view
	// makes).
	QueryGrants []wiring.Grant
	// New returns the view over its table.
	New func(db DB, table string, events projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) Live
	// Verify compares a rebuilt table with the live one, and each stream
	// of the rebuilt one with the domain's fold of its events.
	Verify func(ctx context.Context, db DB, fresh, live string, events rebuild.EventReader, streams []eventstore.StreamID, workers int) (rebuild.Report, error)
	// Routes are the query routes of its own, over a read-only client,
	// beside those the query function serves itself.
	Routes func(db DB, table string) []Route
}

// Live is a view as the projector feeds it, a rebuild fills it and a
// redrive lifts its quarantines.
type Live interface {
	projection.View
	// Apply is ApplyDecoded of events no projector decoded: what a
	// rebuild reads.
	Apply(ctx context.Context, commit []eventstore.Event) error
	Holds(stream eventstore.StreamID) bool
	Lift(ctx context.Context, stream eventstore.StreamID) (projection.Position, error)
	// ReadFirst: see projection.Projection.
	ReadFirst()
}

// All lists every read model, in the order the projector feeds them: the
// projector, the query function, their manifests, the CLI's rebuild and
// redrive and the template's tests all iterate it.
var All = []Definition{
	{
		Name: AccountsView, Category: app.AccountCategory,
		Table: "AccountsTable", Env: env.AccountsTable, Parameter: "AccountsViewTable",
		QueryGrants: []wiring.Grant{
			{Resource: "AccountsTable", Actions: []string{"dynamodb:GetItem"}},
			{Resource: "AccountsTable", Suffix: "/index/" + ByOwnerIndex, Actions: []string{"dynamodb:Query"}},
		},
		New: func(db DB, table string, events projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) Live {
			return NewAccounts(NewDynamoAccounts(db, table), events, dead, log)
		},
		Verify: func(ctx context.Context, db DB, fresh, live string, events rebuild.EventReader, streams []eventstore.StreamID, workers int) (rebuild.Report, error) {
			return VerifyAccounts(ctx, NewDynamoAccounts(db, fresh), NewDynamoAccounts(db, live), events, streams, workers)
		},
	},
	{
		Name: HistoryView, Category: app.AccountCategory,
		Table: "HistoryTable", Env: env.HistoryTable, Parameter: "HistoryViewTable",
		QueryGrants: []wiring.Grant{{Resource: "HistoryTable", Actions: []string{"dynamodb:Query"}}},
		New: func(db DB, table string, events projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) Live {
			return NewHistory(NewDynamoHistory(db, table), events, dead, log)
		},
		Verify: func(ctx context.Context, db DB, fresh, live string, events rebuild.EventReader, streams []eventstore.StreamID, workers int) (rebuild.Report, error) {
			return VerifyHistory(ctx, NewDynamoHistory(db, fresh), NewDynamoHistory(db, live), events, streams, workers)
		},
	},
	{
		Name: TransfersView, Category: app.TransferCategory,
		Table: "TransfersTable", Env: env.TransfersTable, Parameter: "TransfersViewTable",
		QueryGrants: []wiring.Grant{{Resource: "TransfersTable", Actions: []string{"dynamodb:GetItem"}}},
		New: func(db DB, table string, events projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) Live {
			return NewTransfers(NewDynamoTransfers(db, table), events, dead, log)
		},
		Verify: func(ctx context.Context, db DB, fresh, live string, events rebuild.EventReader, streams []eventstore.StreamID, workers int) (rebuild.Report, error) {
			return VerifyTransfers(ctx, NewDynamoTransfers(db, fresh), NewDynamoTransfers(db, live), events, streams, workers)
		},
	},
	{
		Name: StatementsView, Category: app.AccountCategory,
		Table: "StatementsTable", Env: env.StatementsTable, Parameter: "StatementsViewTable",
		QueryGrants: []wiring.Grant{{Resource: "StatementsTable", Actions: []string{"dynamodb:GetItem", "dynamodb:Query"}}},
		New: func(db DB, table string, events projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) Live {
			return NewStatements(NewDynamoStatements(db, table), events, dead, log)
		},
		Verify: func(ctx context.Context, db DB, fresh, live string, events rebuild.EventReader, streams []eventstore.StreamID, workers int) (rebuild.Report, error) {
			return VerifyStatements(ctx, NewDynamoStatements(db, fresh), NewDynamoStatements(db, live), events, streams, workers)
		},
		Routes: func(db DB, table string) []Route {
			return []Route{StatementRoute(NewDynamoStatements(db, table))}
		},
	},
}

// Named returns the view called name.
func Named(name string) (Definition, bool) {
	for _, v := range All {
		if v.Name == name {
			return v, true
		}
	}
	return Definition{}, false
}

// Names lists every view's name, in the order of All.
func Names() []string {
	out := make([]string, len(All))
	for i, v := range All {
		out[i] = v.Name
	}
	return out
}

// Tables maps every view's name to its table's logical id in
// template.yaml.
func Tables() map[string]string {
	out := make(map[string]string, len(All))
	for _, v := range All {
		out[v.Name] = v.Table
	}
	return out
}

// Route is a read route a view serves of its own, beside the query
// function's: a GET of Path, whose segments in braces are parameters
// (/accounts/{id}/statements). It knows nothing of API Gateway: it gets the
// caller's tenant and the request's parameters, and returns what to answer
// as JSON, or an error that httpapi's one mapping turns into a problem.
type Route struct {
	Path string
	// Params are the query parameters it takes; any other, or one given
	// twice, is a 400 that names it.
	Params []string
	Serve  func(ctx context.Context, r Request) (any, error)
}

// Request is what a Route is asked.
type Request struct {
	Tenant string
	// Path holds the path's parameters by name, Query the query's.
	Path  map[string]string
	Query url.Values
}
