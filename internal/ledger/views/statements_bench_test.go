package views_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"annals/internal/kit/benchtest"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/httpapi/httpapitest"
	"annals/internal/kit/personal"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// What one request to the statement route costs, through the query
// function's handler as functions/query wires it: DynamoDB requests by
// operation and read units, in memory and against moto. Requests are
// counted where they reach the statement store, on the wire against moto
// (SDK retries off), and in the handler's log line (its Meter: on DynamoDB
// the read-only client reports every read; the in-memory store reports
// none). A benchmark stops if these disagree or differ from what the design
// says (docs/statements.md: the head and the days, and a day more when the
// range has none). docs/benchmarks.md explains the figures.

// countedStatements counts the statement store's reads as the DynamoDB
// requests they are in DynamoStatements: the head a GetItem, a range of
// days (within 1 MB) or the day before a date a Query.
type countedStatements struct {
	views.StatementStore
	calls *benchtest.Calls
}

func (c countedStatements) Head(ctx context.Context, tenant, accountID string) (h views.StatementHead, found bool, err error) {
	err = c.calls.Do("GetItem", func() error { h, found, err = c.StatementStore.Head(ctx, tenant, accountID); return err })
	return h, found, err
}

func (c countedStatements) Days(ctx context.Context, tenant, accountID, from, to string) (days []views.StatementDay, err error) {
	err = c.calls.Do("Query", func() error { days, err = c.StatementStore.Days(ctx, tenant, accountID, from, to); return err })
	return days, err
}

func (c countedStatements) DayBefore(ctx context.Context, tenant, accountID, date string) (d views.StatementDay, found bool, err error) {
	err = c.calls.Do("Query", func() error { d, found, err = c.StatementStore.DayBefore(ctx, tenant, accountID, date); return err })
	return d, found, err
}

// statementBenchDays is how many days of the benchmark's account have a
// movement: every day of 2025, after the opening on 31 December 2024.
const statementBenchDays = 365

// statementRig is the query handler with the statement route over a
// counted store, and the store as the projector writes it (uncounted).
type statementRig struct {
	h       *queryapi.Handler
	counted benchtest.Handler
	written views.StatementStore
}

func newStatementRig(b *testing.B, moto bool) *statementRig {
	calls := &benchtest.Calls{}
	// The in-memory store reports nothing to the handler's Meter; on
	// DynamoDB the read-only client reports every read.
	r := &statementRig{counted: benchtest.Handler{Logged: httpapitest.NewLineCounter("query"), Unmetered: []*benchtest.Calls{calls}}}
	var read views.StatementStore
	if !moto {
		store := views.NewMemoryStatements()
		r.written, read = store, store
	} else {
		def, _ := views.Named(views.StatementsView)
		db := awstest.DynamoDB(b)
		table := awstest.Table(b, db, def.Table)
		r.written = views.NewDynamoStatements(db, table)
		wire := awstest.NewWire()
		r.counted.Wire = wire
		// One attempt: no SDK retry can put a request on the wire that the
		// store did not send. The client is the one functions/query hands
		// the view's routes.
		read = views.NewDynamoStatements(queryapi.ReadOnlyDynamoDB{DB: awstest.DynamoDBOver(b, wire, 1)}, table)
	}
	log := r.counted.Logged.Logger()
	r.h = queryapi.New(queryapi.Config{Vault: personal.NewVault(personal.NewMemoryKeys()),
		Store:    eventstore.New(eventstore.NewMemoryBackend(), eventstore.WithLogger(log)),
		Accounts: views.NewMemoryAccounts(), History: views.NewMemoryHistory(),
		Routes: []views.Route{views.StatementRoute(countedStatements{StatementStore: read, calls: calls})},
		NewID:  func() string { return uuid.Must(uuid.NewV7()).String() },
		Log:    log,
	})
	return r
}

// seed opens account id on 31 December 2024 and deposits into it once a
// day through 2025, and projects every commit into the statement view as
// the projector does, one record at a time. It returns the last version.
func (r *statementRig) seed(b *testing.B, id string) int64 {
	l := newLedger()
	day := time.Date(2024, 12, 31, 9, 30, 0, 0, time.UTC)
	open, err := app.Encode([]account.Event{opened(id)})
	if err != nil {
		b.Fatal(err)
	}
	l.commit(b, id, day.Format(time.RFC3339), open...)
	for i := range statementBenchDays {
		day = day.AddDate(0, 0, 1)
		dep, err := app.Encode([]account.Event{account.MoneyDeposited{Amount: 1250, Reference: fmt.Sprintf("invoice %06d", i), BalanceAfter: 1250 * int64(i+1)}})
		if err != nil {
			b.Fatal(err)
		}
		l.commit(b, id, day.Format(time.RFC3339), dep...)
	}
	view := views.NewStatements(r.written, l.events, projection.NewDeadLetters(&projection.LetterBox{}), slog.New(slog.DiscardHandler))
	for _, c := range l.commits {
		if err := view.Apply(b.Context(), c.Events); err != nil {
			b.Fatal(err)
		}
	}
	return l.commits[len(l.commits)-1].Head.Version()
}

// BenchmarkStatements is one GET /accounts/{id}/statements per op on an
// account with a movement every day of 2025: a month of days, a year of
// them, and a month without any (after the last day).
func BenchmarkStatements(b *testing.B) {
	benchtest.InMemoryAndOnMoto(b, func(b *testing.B, moto bool) {
		r := newStatementRig(b, moto)
		version := r.seed(b, "acc-daily")
		for _, c := range []struct {
			name, from, to string
			days           int
			want           map[string]int
		}{
			// The head (one GetItem), then the range's days (one Query).
			{"month", "2025-03-01", "2025-03-31", 31, map[string]int{"GetItem": 1, "Query": 1}},
			{"year", "2025-01-01", "2025-12-31", statementBenchDays, map[string]int{"GetItem": 1, "Query": 1}},
			// No day in the range: a Query of the last day before it.
			{"month-without-movement", "2026-02-01", "2026-02-28", 0, map[string]int{"GetItem": 1, "Query": 2}},
		} {
			b.Run(c.name, func(b *testing.B) {
				ev := httpapitest.Request{Method: "GET", Path: "/accounts/acc-daily/statements", Query: "from=" + c.from + "&to=" + c.to,
					Subject: "reader", Tenant: tenant, Scopes: []string{httpapi.ScopeRead}}.Event()
				var size int
				r.counted.Start()
				for b.Loop() {
					resp, err := r.h.Handle(b.Context(), ev)
					if err != nil || resp.StatusCode != 200 {
						b.Fatalf("%s?%s: %d %s %v", ev.RawPath, ev.RawQueryString, resp.StatusCode, resp.Body, err)
					}
					var got statementJSON
					if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || len(got.Days) != c.days || got.Version != version {
						b.Fatalf("%s?%s: %d days at version %d (%v), want %d at %d", ev.RawPath, ev.RawQueryString, len(got.Days), got.Version, err, c.days, version)
					}
					size = len(resp.Body)
				}
				all := map[string]int{}
				for op, n := range c.want {
					all[op] = n * b.N
				}
				counted := r.counted.Check(b, all)
				b.ReportMetric(counted.Logged.RCU/float64(b.N), "logged-RCU/op")
				b.ReportMetric(float64(size), "body-bytes")
			})
		}
	})
}
