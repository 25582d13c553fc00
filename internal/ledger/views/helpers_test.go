package views_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/projectiontest"
	"annals/internal/kit/testlog"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
)

const tenant = "acme"

// writer appends ledger events to one account stream.
type writer struct {
	stream  eventstore.StreamID
	head    eventstore.Head
	commits []eventstore.Committed
	balance int64
}

func newAccount(t testing.TB, id string) *writer {
	t.Helper()
	s, err := app.AccountStream(tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return &writer{stream: s, head: eventstore.NewStream(s)}
}

// commitsAfter are the stream's commits after version after (where a
// commit ends), whole, as the fan-out hands them on.
func commitsAfter(t testing.TB, store *eventstore.Store, s eventstore.StreamID, after int64) [][]eventstore.Event {
	t.Helper()
	var out [][]eventstore.Event
	for {
		page, err := store.ReadCommitsAfter(t.Context(), s, after)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Commits...)
		if page.Next == 0 {
			return out
		}
		after = page.Next
	}
}

// commit appends one commit of the given ledger events.
func (a *writer) commit(t testing.TB, store *eventstore.Store, evs ...account.Event) eventstore.Committed {
	t.Helper()
	news, err := app.Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	return a.raw(t, store, news...)
}

// raw appends one commit of events as given, decodable or not.
func (a *writer) raw(t testing.TB, store *eventstore.Store, evs ...eventstore.NewEvent) eventstore.Committed {
	t.Helper()
	c, err := store.Append(context.Background(), a.head, evs, eventstore.Metadata{CommandID: fmt.Sprint("cmd-", len(a.commits)), Actor: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.head = c.Head
	a.commits = append(a.commits, c)
	return c
}

func (a *writer) open(t testing.TB, store *eventstore.Store, owner string) eventstore.Committed {
	return a.commit(t, store, account.AccountOpened{AccountID: a.stream.ID, Owner: owner, Currency: "EUR"})
}

func (a *writer) deposit(t testing.TB, store *eventstore.Store, amount int64) eventstore.Committed {
	a.balance += amount
	return a.commit(t, store, account.MoneyDeposited{Amount: amount, Reference: "r", BalanceAfter: a.balance})
}

func (a *writer) withdraw(t testing.TB, store *eventstore.Store, amount int64) eventstore.Committed {
	a.balance -= amount
	return a.commit(t, store, account.MoneyWithdrawn{Amount: amount, Reference: "r", BalanceAfter: a.balance})
}

// known is one event of a stream with what the domain decodes it as.
type known struct {
	raw eventstore.Event
	ev  account.Event
}

// domainEvents reads the whole stream and decodes it as the domain does,
// leaving out the types the ledger does not know; last is the stream's
// last event, known or not.
func domainEvents(t testing.TB, store *eventstore.Store, s eventstore.StreamID) (evs []known, last eventstore.Event) {
	t.Helper()
	page, err := store.Read(context.Background(), s, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Events {
		ev, err := app.Decode(e)
		var unknown *account.UnknownEventError
		if errors.As(err, &unknown) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, known{e, ev})
	}
	return evs, page.Events[len(page.Events)-1]
}

// fold is what the domain makes of every event of the stream.
func fold(t testing.TB, store *eventstore.Store, s eventstore.StreamID) (account.Account, eventstore.Event) {
	t.Helper()
	evs, last := domainEvents(t, store, s)
	var state account.Account
	for _, k := range evs {
		state = account.Evolve(state, k.ev)
	}
	return state, last
}

// checkFolded asserts that the view of the stream equals the domain's fold
// of all its events.
func checkFolded(t testing.TB, view views.AccountStore, store *eventstore.Store, s eventstore.StreamID) {
	t.Helper()
	want, last := fold(t, store, s)
	row, found, err := view.Account(context.Background(), s.Tenant, s.ID)
	if err != nil || !found {
		t.Fatalf("account %s: found %v, %v", s, found, err)
	}
	if fmt.Sprintf("%+v", row.State) != fmt.Sprintf("%+v", want) || row.Version != last.Version ||
		!row.UpdatedAt.Equal(last.RecordedAt) || row.Quarantine != nil {
		t.Errorf("view of %s = %+v at %d (%v, quarantine %+v), want %+v at %d (%v)",
			s, row.State, row.Version, row.UpdatedAt, row.Quarantine, want, last.Version, last.RecordedAt)
	}
}

// checkHistory asserts that the stream's history is, newest first, its
// deposits and withdrawals as the domain decodes them, at the stream's head.
func checkHistory(t testing.TB, history views.HistoryStore, store *eventstore.Store, s eventstore.StreamID) {
	t.Helper()
	evs, last := domainEvents(t, store, s)
	var want []views.HistoryEntry
	for _, k := range evs {
		e := k.raw
		entry := views.HistoryEntry{Tenant: s.Tenant, AccountID: s.ID, Version: e.Version, EventID: e.ID,
			OccurredAt: e.OccurredAt.UTC(), RecordedAt: e.RecordedAt.UTC()}
		switch ev := k.ev.(type) {
		case account.MoneyDeposited:
			entry.Kind, entry.Amount, entry.BalanceAfter, entry.Reference, entry.TransferID = "deposit", ev.Amount, ev.BalanceAfter, ev.Reference, ev.TransferID
		case account.MoneyWithdrawn:
			entry.Kind, entry.Amount, entry.BalanceAfter, entry.Reference, entry.TransferID = "withdrawal", ev.Amount, ev.BalanceAfter, ev.Reference, ev.TransferID
		default:
			continue
		}
		want = append([]views.HistoryEntry{entry}, want...)
	}
	got, err := history.Transactions(context.Background(), s.Tenant, s.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("history of %s\n got %+v\nwant %+v", s, got, want)
	}
	pos, found, err := history.Position(context.Background(), s.Tenant, s.ID)
	if err != nil || !found || pos.Version != last.Version || !pos.UpdatedAt.Equal(last.RecordedAt) || pos.Quarantine != nil {
		t.Errorf("history position of %s = %+v (found %v, %v), want %d at %v", s, pos, found, err, last.Version, last.RecordedAt)
	}
}

// record is the Kinesis record the fan-out makes of a commit.
func record(t testing.TB, seq int, c eventstore.Committed) events.KinesisEventRecord {
	t.Helper()
	return projectiontest.Record(t, seq, c.Events)
}

// The events table in memory and records of any data, as every projector
// test has them.
var (
	newEvents = projectiontest.NewEvents
	rawRecord = projectiontest.RawRecord
)

func batch(records ...events.KinesisEventRecord) events.KinesisEvent {
	return events.KinesisEvent{Records: records}
}

// unreachable is a queue that cannot be reached.
type unreachable struct{ err error }

func (u unreachable) Send(context.Context, string) error { return u.err }

// faultyStore wraps a view store: fail decides an error for a write of a
// stream's row, and every write is counted.
type faultyStore struct {
	views.AccountStore
	mu     sync.Mutex
	puts   map[string]int
	fail   func(row views.AccountRow) error
	before func(row views.AccountRow) // runs before each write
}

func (f *faultyStore) PutAccount(ctx context.Context, row views.AccountRow, expected int64) error {
	f.mu.Lock()
	if f.puts == nil {
		f.puts = map[string]int{}
	}
	f.puts[row.AccountID]++
	fail, before := f.fail, f.before
	f.mu.Unlock()
	if before != nil {
		before(row)
	}
	if fail != nil {
		if err := fail(row); err != nil {
			return err
		}
	}
	return f.AccountStore.PutAccount(ctx, row, expected)
}

func (f *faultyStore) writes(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.puts[id]
}

// fixture is a projector over an in-memory view and event store.
type fixture struct {
	events  *eventstore.Store
	view    *faultyStore
	history *views.MemoryHistory
	sqs     *projection.LetterBox
	h       *projection.Handler
	logs    *testlog.Buffer
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{events: newEvents(), view: &faultyStore{AccountStore: views.NewMemoryAccounts()},
		history: views.NewMemoryHistory(), sqs: &projection.LetterBox{}, logs: &testlog.Buffer{}}
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	dead := projection.NewDeadLetters(f.sqs)
	f.h = projection.NewHandler(views.Decode, dead, log,
		views.NewAccounts(f.view, f.events, dead, log),
		views.NewHistory(f.history, f.events, dead, log))
	return f
}

func (f *fixture) handle(t testing.TB, ev events.KinesisEvent) []string {
	t.Helper()
	return projectiontest.Failures(t, f.h, ev.Records...)
}

func (f *fixture) row(t testing.TB, a *writer) views.AccountRow {
	t.Helper()
	row, found, err := f.view.Account(context.Background(), a.stream.Tenant, a.stream.ID)
	if err != nil || !found {
		t.Fatalf("account %s: found %v, %v", a.stream, found, err)
	}
	return row
}
