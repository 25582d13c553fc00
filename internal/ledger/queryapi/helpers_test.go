package queryapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/httpapi/httpapitest"
	"annals/internal/kit/personal"
	"annals/internal/kit/testclock"
	"annals/internal/kit/testlog"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/views"
)

// fixture is a query handler over in-memory stores (held to the DynamoDB
// contract by their own suites), with a clock that moves a second per
// commit.
type fixture struct {
	h       *queryapi.Handler
	store   *eventstore.Store
	view    *views.MemoryAccounts
	project func(ctx context.Context, commit []eventstore.Event) error
	clock   *testclock.Clock
	logs    *testlog.Buffer
}

var ids atomic.Int64

func newID() string { return fmt.Sprintf("id-%06d", ids.Add(1)) }

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureOver(t, eventstore.NewMemoryBackend())
}

// newFixtureOver is newFixture over an events table of the test's own; its
// store reads through the ledger's catalogue of event types, as every
// function's does (wiring/eventsdb).
func newFixtureOver(t testing.TB, events eventstore.Backend) *fixture {
	t.Helper()
	f := &fixture{
		view:  views.NewMemoryAccounts(),
		clock: testclock.New(testclock.Start, time.Second),
		logs:  &testlog.Buffer{},
	}
	f.store = eventstore.New(events, eventstore.WithClock(f.clock.Now), eventstore.WithIDs(newID),
		eventstore.WithLogger(slog.New(slog.DiscardHandler)), eventstore.WithUpcaster(app.Schemas.Upcaster()))
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	quiet := slog.New(slog.DiscardHandler)
	history := views.NewMemoryHistory()
	accountsView := views.NewAccounts(f.view, f.store, nil, quiet)
	historyView := views.NewHistory(history, f.store, nil, quiet)
	f.project = func(ctx context.Context, commit []eventstore.Event) error {
		if err := accountsView.Apply(ctx, commit); err != nil {
			return err
		}
		return historyView.Apply(ctx, commit)
	}
	f.h = queryapi.New(queryapi.Config{Vault: personal.NewVault(personal.NewMemoryKeys()),
		Store:    f.store,
		Accounts: f.view,
		History:  history,
		NewID:    newID,
		Log:      log,
	})
	return f
}

// writer appends ledger events to one account stream and projects them
// into the view when asked.
type writer struct {
	f        *fixture
	stream   eventstore.StreamID
	cur      eventstore.Current[account.Account]
	pending  [][]eventstore.Event
	balance  int64
	versions []time.Time // recordedAt of each version, from 1
}

func (f *fixture) open(t testing.TB, tenant, id, owner string) *writer {
	t.Helper()
	s, err := app.AccountStream(tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	a := &writer{f: f, stream: s, cur: eventstore.Current[account.Account]{Head: eventstore.NewStream(s)}}
	a.commit(t, account.AccountOpened{AccountID: id, Owner: owner, Currency: "EUR", OverdraftLimit: 100})
	return a
}

// commit appends one commit of the events and returns its last version.
func (a *writer) commit(t testing.TB, evs ...account.Event) int64 {
	t.Helper()
	enc, err := app.Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	n := len(a.versions) + 1
	meta := eventstore.Metadata{CommandID: fmt.Sprint("cmd-", n), CorrelationID: fmt.Sprint("corr-", n), CausationID: fmt.Sprint("cause-", n), Actor: "alice"}
	cur, recorded, err := app.NewAccounts(a.f.store).Append(context.Background(), a.cur, enc, meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.cur = cur
	a.pending = append(a.pending, recorded)
	for _, e := range recorded {
		a.versions = append(a.versions, e.RecordedAt)
	}
	return cur.Head.Version()
}

func (a *writer) deposit(t testing.TB, amount int64) int64 {
	t.Helper()
	a.balance += amount
	return a.commit(t, account.MoneyDeposited{Amount: amount, Reference: fmt.Sprint("dep ", amount), BalanceAfter: a.balance})
}

func (a *writer) withdraw(t testing.TB, amount int64) int64 {
	t.Helper()
	a.balance -= amount
	return a.commit(t, account.MoneyWithdrawn{Amount: amount, Reference: fmt.Sprint("wd ", amount), BalanceAfter: a.balance})
}

// project applies the commits not yet projected to the account view.
func (a *writer) project(t testing.TB) {
	t.Helper()
	for _, c := range a.pending {
		if err := a.f.project(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	a.pending = nil
}

type req struct {
	path    string
	query   string
	method  string
	headers map[string]string
	tenant  string
	scopes  []string
	noAuth  bool
}

func (r req) event() events.APIGatewayV2HTTPRequest {
	if r.method == "" {
		r.method = "GET"
	}
	if r.tenant == "" {
		r.tenant = "t1"
	}
	if r.scopes == nil {
		r.scopes = []string{httpapi.ScopeRead}
	}
	return httpapitest.Request{Method: r.method, Path: r.path, Query: r.query, Headers: r.headers,
		Subject: "reader", Tenant: r.tenant, Scopes: r.scopes, NoAuth: r.noAuth}.Event()
}

func (f *fixture) do(t testing.TB, r req) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := f.h.Handle(context.Background(), r.event())
	if err != nil {
		t.Fatalf("%s?%s: handler returned an error: %v", r.path, r.query, err)
	}
	return resp
}

// body and expect check a response as every function's route tests do.
type body = httpapitest.Body

var expect = httpapitest.Expect

func num(b body, k string) int64 {
	v, _ := b[k].(float64)
	return int64(v)
}

func items(t testing.TB, b body) []body {
	t.Helper()
	raw, ok := b["items"].([]any)
	if !ok {
		t.Fatalf("no items array in %v", b)
	}
	out := make([]body, len(raw))
	for i, r := range raw {
		out[i] = body(r.(map[string]any))
	}
	return out
}

// next returns the page's nextCursor, "" when null.
func next(t testing.TB, b body) string {
	t.Helper()
	v, ok := b["nextCursor"]
	if !ok {
		t.Fatalf("no nextCursor in %v", b)
	}
	s, _ := v.(string)
	return s
}

// all pages through a list and returns every item.
func (f *fixture) all(t testing.TB, r req, limit int) []body {
	t.Helper()
	var out []body
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		q := r
		q.query = strings.Trim(fmt.Sprintf("%s&limit=%d", r.query, limit), "&")
		if cursor != "" {
			q.query += "&cursor=" + cursor
		}
		b := expect(t, f.do(t, q), 200, "")
		page := items(t, b)
		if len(page) > limit {
			t.Fatalf("a page of %d items with limit %d", len(page), limit)
		}
		out = append(out, page...)
		if cursor = next(t, b); cursor == "" {
			return out
		}
	}
}
