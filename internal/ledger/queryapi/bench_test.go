package queryapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"annals/internal/kit/benchtest"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/httpapi/httpapitest"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// These benchmarks measure what one request to the query Lambda costs:
// DynamoDB requests by operation, read units and time, per kind of query,
// in memory and against moto, and a time-travel query on a 10,000-event
// account with and without snapshots.
//
// Requests are counted where they reach the stores (a wrapper around the
// event store's Backend and the two views), and against moto also on the
// wire (awstest.Wire, SDK retries off). The handler's own log line reports
// what its Meter saw: on DynamoDB every table reports to it; in memory
// only the events table does. A benchmark stops if these disagree, or if
// the requests are not what the design says. docs/benchmarks.md explains
// the figures.

const (
	benchK      = eventstore.DefaultSnapshotEvery
	benchTenant = "t1"
	benchLong   = 10000 // events of the time-travel account
)

// benchViews counts the view reads, each one DynamoDB request in the
// DynamoDB stores (a page within 1 MB).
type benchViews struct {
	accounts queryapi.Accounts
	history  queryapi.History
	calls    *benchtest.Calls
}

func (v benchViews) Account(ctx context.Context, tenant, id string) (row views.AccountRow, found bool, err error) {
	err = v.calls.Do("GetItem", func() error { row, found, err = v.accounts.Account(ctx, tenant, id); return err })
	return row, found, err
}

func (v benchViews) AccountsOfOwnerPage(ctx context.Context, tenant, owner, after string, limit int) (rows []views.AccountRow, err error) {
	err = v.calls.Do("Query", func() error { rows, err = v.accounts.AccountsOfOwnerPage(ctx, tenant, owner, after, limit); return err })
	return rows, err
}

func (v benchViews) Transactions(ctx context.Context, tenant, id string, before int64, limit int) (entries []views.HistoryEntry, err error) {
	err = v.calls.Do("Query", func() error { entries, err = v.history.Transactions(ctx, tenant, id, before, limit); return err })
	return entries, err
}

// benchRig is a query handler whose requests are counted, over stores in
// memory or on moto, and a writer of the data it reads (uncounted).
type benchRig struct {
	h       *queryapi.Handler
	counted benchtest.Handler

	// Uncounted: where the data is written.
	raw      eventstore.Backend // the events table
	accounts views.AccountStore
	history  views.HistoryStore
	db       *dynamodb.Client
	table    string
}

func newBenchRig(b *testing.B, moto bool) *benchRig {
	events, viewCalls := &benchtest.Calls{}, &benchtest.Calls{}
	// In memory only the events table reports to the handler's Meter.
	r := &benchRig{counted: benchtest.Handler{Logged: httpapitest.NewLineCounter("query"),
		Metered: []*benchtest.Calls{events}, Unmetered: []*benchtest.Calls{viewCalls}}}
	log := r.counted.Logged.Logger()
	var (
		counted      eventstore.Backend
		readAccounts queryapi.Accounts
		readHistory  queryapi.History
	)
	if !moto {
		r.raw = eventstore.NewMemoryBackend()
		counted = r.raw
		accounts, history := views.NewMemoryAccounts(), views.NewMemoryHistory()
		r.accounts, r.history = accounts, history
		readAccounts, readHistory = accounts, history
	} else {
		r.db = awstest.DynamoDB(b)
		r.table = awstest.Table(b, r.db, "EventsTable")
		accountsTable, historyTable := awstest.Table(b, r.db, "AccountsTable"), awstest.Table(b, r.db, "HistoryTable")
		r.raw = dynamostore.New(r.db, r.table)
		r.accounts, r.history = views.NewDynamoAccounts(r.db, accountsTable), views.NewDynamoHistory(r.db, historyTable)
		wire := awstest.NewWire()
		r.counted.Wire = wire
		client := awstest.DynamoDBOver(b, wire, 1)
		counted = dynamostore.New(client, r.table)
		readOnly := queryapi.ReadOnlyDynamoDB{DB: client}
		readAccounts, readHistory = views.NewDynamoAccounts(readOnly, accountsTable), views.NewDynamoHistory(readOnly, historyTable)
	}
	bv := benchViews{accounts: readAccounts, history: readHistory, calls: viewCalls}
	r.h = queryapi.New(queryapi.Config{Vault: personal.NewVault(personal.NewMemoryKeys()),
		// Wired as functions/query wires it: K = 10, UUIDv7 ids.
		Store:    eventstore.New(benchtest.Backend{Backend: counted, Calls: events}, eventstore.WithSnapshotEvery(benchK), eventstore.WithLogger(log)),
		Accounts: bv, History: bv,
		NewID: func() string { return uuid.Must(uuid.NewV7()).String() },
		Log:   log,
	})
	return r
}

// seed writes an account of n one-event commits (deposits after the
// opening, as commands write them, one second apart) with snapshots every
// k (0: none), and projects its first projected events into both views. On moto the commits are
// built in memory and copied with BatchWriteItem: the same items, without
// thousands of round trips.
func (r *benchRig) seed(b *testing.B, id, owner string, n int, k int64, projected int) []time.Time {
	ctx := b.Context()
	src := r.raw
	if r.db != nil {
		src = eventstore.NewMemoryBackend()
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := eventstore.New(src, eventstore.WithSnapshotEvery(k), eventstore.WithLogger(slog.New(slog.DiscardHandler)),
		eventstore.WithClock(func() time.Time { clock = clock.Add(time.Second); return clock }))
	stream, err := app.AccountStream(benchTenant, id)
	if err != nil {
		b.Fatal(err)
	}
	accs := app.NewAccounts(store)
	cur := eventstore.Current[account.Account]{Head: eventstore.NewStream(stream)}
	quiet := slog.New(slog.DiscardHandler)
	accView, histView := views.NewAccounts(r.accounts, store, nil, quiet), views.NewHistory(r.history, store, nil, quiet)
	var times []time.Time
	for v := range n {
		var ev account.Event = account.MoneyDeposited{Amount: 1250, Reference: fmt.Sprintf("invoice %06d", v), BalanceAfter: 1250 * int64(v)}
		if v == 0 {
			ev = account.AccountOpened{AccountID: id, Owner: owner, Currency: "EUR"}
		}
		enc, err := app.Encode([]account.Event{ev})
		if err != nil {
			b.Fatal(err)
		}
		var recorded []eventstore.Event
		cur, recorded, err = accs.Append(ctx, cur, enc, eventstore.Metadata{CommandID: uuid.NewString(), CorrelationID: uuid.NewString(), CausationID: uuid.NewString(), Actor: "bench"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		times = append(times, recorded[0].RecordedAt)
		if v < projected {
			if err := accView.Apply(ctx, recorded); err != nil {
				b.Fatal(err)
			}
			if err := histView.Apply(ctx, recorded); err != nil {
				b.Fatal(err)
			}
		}
	}
	if r.db != nil {
		awstest.PutItems(b, r.db, r.table, benchtest.Items(b, src))
	}
	return times
}

// report checks the counts against each other and against want (per
// request), then reports them per request.
func (r *benchRig) report(b *testing.B, want map[string]int) {
	all := map[string]int{}
	for op, c := range want {
		all[op] = c * b.N
	}
	c := r.counted.Check(b, all)
	b.ReportMetric(c.Logged.RCU/float64(b.N), "logged-RCU/op")
}

func benchGet(b *testing.B, h *queryapi.Handler, ev events.APIGatewayV2HTTPRequest, check func(body) bool) {
	resp, err := h.Handle(b.Context(), ev)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("%s?%s: %d %s %v", ev.RawPath, ev.RawQueryString, resp.StatusCode, resp.Body, err)
	}
	var bd body
	if err := json.Unmarshal([]byte(resp.Body), &bd); err != nil || !check(bd) {
		b.Fatalf("%s?%s: unexpected %s", ev.RawPath, ev.RawQueryString, resp.Body)
	}
}

// One request per op of each kind of query, on an account of 61 events
// (past a snapshot) and an owner of 25 accounts.
func BenchmarkQuery(b *testing.B) {
	benchtest.InMemoryAndOnMoto(b, func(b *testing.B, moto bool) {
		r := newBenchRig(b, moto)
		r.seed(b, "acc-main", "alice", 61, benchK, 61)
		for i := range 24 {
			r.seed(b, fmt.Sprintf("acc-%02d", i), "alice", 1, benchK, 1)
		}
		// An account whose third event the views have not seen.
		r.seed(b, "acc-lag", "bob", 3, benchK, 2)
		page := func(n int) func(body) bool {
			return func(bd body) bool { its, _ := bd["items"].([]any); return len(its) == n }
		}
		version := func(v int64) func(body) bool { return func(bd body) bool { return num(bd, "version") == v } }
		for _, c := range []struct {
			name  string
			q     req
			want  map[string]int
			check func(body) bool
		}{
			{"account-view", req{path: "/accounts/acc-main"}, map[string]int{"GetItem": 1}, version(61)},
			{"min-version-view", req{path: "/accounts/acc-main", query: "minVersion=61"}, map[string]int{"GetItem": 1}, version(61)},
			{"min-version-replay", req{path: "/accounts/acc-lag", query: "minVersion=3"}, map[string]int{"GetItem": 1, "Query": 1}, version(3)},
			{"at-version", req{path: "/accounts/acc-main", query: "version=30"}, map[string]int{"Query": 1}, version(30)},
			{"owner-accounts", req{path: "/accounts", query: "owner=alice"}, map[string]int{"Query": 1}, page(20)},
			{"transactions", req{path: "/accounts/acc-main/transactions"}, map[string]int{"Query": 1}, page(20)},
			{"events-first-page", req{path: "/accounts/acc-main/events"}, map[string]int{"Query": 1}, page(20)},
			{"events-from-version", req{path: "/accounts/acc-main/events", query: "fromVersion=30"}, map[string]int{"Query": 2}, page(20)},
		} {
			b.Run(c.name, func(b *testing.B) {
				c.q.tenant = benchTenant
				ev := c.q.event()
				r.counted.Start()
				for b.Loop() {
					benchGet(b, r.h, ev, c.check)
				}
				r.report(b, c.want)
			})
		}
	})
}

// A time-travel query on an account of 10,000 one-event commits, in the
// middle of its history (by version and by time) and at its head: with a
// snapshot every K = 10, and written with none (K = 0) but read by the
// function's store (K = 10). Against moto the stream without snapshots is
// only read when ANNALS_BENCH_SLOW is set: each request there takes moto
// about half a minute.
func BenchmarkTimeTravel(b *testing.B) {
	benchtest.InMemoryAndOnMoto(b, func(b *testing.B, moto bool) {
		r := newBenchRig(b, moto)
		for _, snaps := range []struct {
			name string
			k    int64
		}{{"snapshots", benchK}, {"no-snapshots", 0}} {
			b.Run(snaps.name, func(b *testing.B) {
				if moto && snaps.k == 0 && os.Getenv("ANNALS_BENCH_SLOW") == "" {
					b.Skip("set ANNALS_BENCH_SLOW=1 to read a stream without snapshots on moto")
				}
				id := "acc-long-" + snaps.name
				times := r.seed(b, id, "carol", benchLong, snaps.k, 0)
				mid := times[benchLong/2-1].Add(time.Second / 2) // between versions 5,000 and 5,001
				// A commit keeps the state after it: a state at a version
				// is one Query of the commit holding it and the one
				// before. A state as of a time is the latest snapshot
				// recorded by then and the commits up to the next
				// multiple of K; without snapshots, every commit up to
				// the time, by 1 MB.
				withSnaps := snaps.k > 0
				for _, c := range []struct {
					name    string
					query   string
					version int64
					queries int
				}{
					{"version-middle", "version=5025", 5025, 1},
					{"at-middle", "at=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), 5000, pick(withSnaps, 2, 5)},
					{"version-head", "version=10000", 10000, 1},
				} {
					b.Run(c.name, func(b *testing.B) {
						ev := req{path: "/accounts/" + id, query: c.query, tenant: benchTenant}.event()
						r.counted.Start()
						for b.Loop() {
							benchGet(b, r.h, ev, func(bd body) bool {
								return num(bd, "version") == c.version && num(bd, "balance") == 1250*(c.version-1)
							})
						}
						r.report(b, map[string]int{"Query": c.queries})
					})
				}
			})
		}
	})
}

func pick(cond bool, yes, no int) int {
	if cond {
		return yes
	}
	return no
}
