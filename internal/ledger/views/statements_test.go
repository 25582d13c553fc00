package views_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// The in-memory statements must behave exactly like the DynamoDB ones.
func TestStatementStoreContract(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		statementStoreContract(t, views.NewMemoryStatements())
	})
	t.Run("dynamodb", func(t *testing.T) {
		t.Parallel()
		db := awstest.DynamoDB(t)
		statementStoreContract(t, views.NewDynamoStatements(db, awstest.Table(t, db, "StatementsTable")))
	})
}

func statementStoreContract(t *testing.T, s views.StatementStore) {
	ctx := t.Context()
	if _, found, err := s.Head(ctx, "t1", "a1"); err != nil || found {
		t.Fatalf("head of an unseen account: found %v, %v", found, err)
	}
	if days, err := s.Days(ctx, "t1", "a1", "2026-01-01", "2026-12-31"); err != nil || len(days) != 0 {
		t.Fatalf("days of an unseen account: %v, %v", days, err)
	}
	if _, found, err := s.DayBefore(ctx, "t1", "a1", "2026-12-31"); err != nil || found {
		t.Fatalf("day before, of an unseen account: found %v, %v", found, err)
	}

	d1 := views.StatementDay{Date: "2026-03-01", Deposits: 100, Closing: 100, Movements: 1, FirstVersion: 2, LastVersion: 2}
	d2 := views.StatementDay{Date: "2026-03-03", Opening: 100, Withdrawals: 20, TransfersOut: 30, Closing: 50, Movements: 2, FirstVersion: 3, LastVersion: 5}
	at := time.Date(2026, 3, 3, 23, 30, 0, 123456789, time.FixedZone("CET", 3600))
	head := views.StatementHead{
		Position: projection.Position{Version: 5, UpdatedAt: at},
		Currency: "EUR", InFlight: []string{"tr1", "tr2"}, Last: d2,
	}
	if err := s.SaveDays(ctx, "t1", "a1", []views.StatementDay{d1, d2}, head, 0); err != nil {
		t.Fatalf("first save: %v", err)
	}
	got, found, err := s.Head(ctx, "t1", "a1")
	want := head
	want.Position.UpdatedAt = at.UTC()
	if err != nil || !found || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) || got.Position.UpdatedAt.Location() != time.UTC {
		t.Errorf("head (found %v, %v)\n got %+v\nwant %+v in UTC", found, err, got, want)
	}

	// Ranges include both ends; the head is never a day.
	for _, c := range []struct {
		from, to string
		want     []views.StatementDay
	}{
		{"2026-03-01", "2026-03-03", []views.StatementDay{d1, d2}},
		{"2026-03-01", "2026-03-01", []views.StatementDay{d1}},
		{"2026-03-02", "2026-03-02", nil},
		{"2026-03-02", "2026-12-31", []views.StatementDay{d2}},
		{"0000-01-01", "9999-12-31", []views.StatementDay{d1, d2}},
		{"2026-03-03", "2026-03-01", nil},
	} {
		days, err := s.Days(ctx, "t1", "a1", c.from, c.to)
		if err != nil || !slices.Equal(days, c.want) {
			t.Errorf("days from %s to %s = %+v (%v), want %+v", c.from, c.to, days, err, c.want)
		}
	}
	for _, c := range []struct {
		date  string
		want  views.StatementDay
		found bool
	}{
		{"2026-03-01", views.StatementDay{}, false},
		{"2026-03-02", d1, true},
		{"2026-03-03", d1, true},
		{"2026-03-04", d2, true},
	} {
		day, found, err := s.DayBefore(ctx, "t1", "a1", c.date)
		if err != nil || found != c.found || day != c.want {
			t.Errorf("day before %s = %+v (found %v, %v), want %+v (found %v)", c.date, day, found, err, c.want, c.found)
		}
	}

	// The head's version guards every write, and a refused one writes
	// nothing.
	moved := head
	moved.Position = projection.Position{Version: 7}
	for _, stale := range []int64{0, 3, 6} {
		if err := s.SaveDays(ctx, "t1", "a1", nil, moved, stale); !errors.Is(err, projection.ErrStale) {
			t.Errorf("save expecting %d while at 5: %v, want ErrStale", stale, err)
		}
	}
	d3 := views.StatementDay{Date: "2026-03-04", Opening: 50, Deposits: 1, Closing: 51, Movements: 1, FirstVersion: 6, LastVersion: 6}
	refusedHead := head
	refusedHead.Position, refusedHead.Last = projection.Position{Version: 6}, d3
	if err := s.SaveDays(ctx, "t1", "a1", []views.StatementDay{d3}, refusedHead, 4); !errors.Is(err, projection.ErrStale) {
		t.Errorf("save of a day expecting 4 while at 5: %v, want ErrStale", err)
	}
	if got, _, _ := s.Head(ctx, "t1", "a1"); got.Position.Version != 5 {
		t.Errorf("a refused save moved the head to %d", got.Position.Version)
	}
	if days, _ := s.Days(ctx, "t1", "a1", "2026-03-04", "2026-03-04"); len(days) != 0 {
		t.Errorf("a refused save wrote %+v", days)
	}

	// Saves that break the contract are refused whole, not as stale.
	over := make([]views.StatementDay, views.MaxStatementDays+1)
	for i := range over {
		over[i] = views.StatementDay{Date: time.Date(2027, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(views.DateLayout), FirstVersion: int64(6 + i), LastVersion: int64(6 + i)}
	}
	overHead := head
	overHead.Position, overHead.Last = projection.Position{Version: int64(6 + len(over))}, over[len(over)-1]
	d3late := d3
	d3late.FirstVersion, d3late.LastVersion = 5, 5
	for name, c := range map[string]struct {
		days []views.StatementDay
		head views.StatementHead
	}{
		"days out of order":            {[]views.StatementDay{d3, d2}, refusedHead},
		"a day twice":                  {[]views.StatementDay{d3, d3}, refusedHead},
		"a day that is not the head's": {[]views.StatementDay{d3}, head},
		"a day at or before the head":  {[]views.StatementDay{d3late}, views.StatementHead{Position: projection.Position{Version: 6}, Last: d3late}},
		"a day after the new head":     {[]views.StatementDay{d3}, views.StatementHead{Position: projection.Position{Version: 5}, Last: d3}},
		"a date that is not one":       {[]views.StatementDay{{Date: "2026-02-30", FirstVersion: 6, LastVersion: 6}}, views.StatementHead{Position: projection.Position{Version: 6}, Last: views.StatementDay{Date: "2026-02-30", FirstVersion: 6, LastVersion: 6}}},
		"more days than a write takes": {over, overHead},
	} {
		err := s.SaveDays(ctx, "t1", "a1", c.days, c.head, 5)
		if err == nil || errors.Is(err, projection.ErrStale) {
			t.Errorf("%s: save = %v, want a refused contract", name, err)
		}
	}
	if got, _, _ := s.Head(ctx, "t1", "a1"); got.Position.Version != 5 {
		t.Errorf("a refused save moved the head to %d", got.Position.Version)
	}

	// A later save rewrites the day it adds to and writes new ones; an
	// empty set of transfers in flight reads as none.
	d2b := d2
	d2b.Deposits, d2b.Closing, d2b.Movements, d2b.LastVersion = 10, 60, 3, 6
	d4 := views.StatementDay{Date: "2026-03-05", Opening: 60, Refunds: 30, Closing: 90, Movements: 1, FirstVersion: 8, LastVersion: 8}
	next := views.StatementHead{Position: projection.Position{Version: 9, UpdatedAt: at.Add(48 * time.Hour)}, Currency: "EUR", InFlight: []string{}, Last: d4}
	if err := s.SaveDays(ctx, "t1", "a1", []views.StatementDay{d2b, d4}, next, 5); err != nil {
		t.Fatalf("second save: %v", err)
	}
	if days, err := s.Days(ctx, "t1", "a1", "2026-01-01", "2026-12-31"); err != nil || !slices.Equal(days, []views.StatementDay{d1, d2b, d4}) {
		t.Errorf("days after the second save = %+v (%v)", days, err)
	}
	if got, _, err := s.Head(ctx, "t1", "a1"); err != nil || got.InFlight != nil || got.Last != d4 || got.Position.Version != 9 {
		t.Errorf("head after the second save = %+v (%v), want version 9, last day %s, no transfers in flight", got, err, d4.Date)
	}

	// As many days as one write takes, at once.
	full := over[:views.MaxStatementDays]
	fullHead := views.StatementHead{Position: projection.Position{Version: full[len(full)-1].LastVersion + 1}, Currency: "EUR", Last: full[len(full)-1]}
	if err := s.SaveDays(ctx, "t1", "a2", full, fullHead, 0); err != nil {
		t.Fatalf("save of %d days: %v", len(full), err)
	}
	if days, err := s.Days(ctx, "t1", "a2", "2027-01-01", "2027-12-31"); err != nil || !slices.Equal(days, full) {
		t.Errorf("%d days read back (%v), want the %d saved", len(days), err, len(full))
	}

	// A quarantine is part of the head; other accounts and tenants are
	// apart.
	q := views.StatementHead{Position: projection.Position{Quarantine: &projection.Quarantine{Reason: "envelope does not decode", At: 1}}}
	if err := s.SaveDays(ctx, "t1", "a0", nil, q, 0); err != nil {
		t.Fatal(err)
	}
	if got, found, err := s.Head(ctx, "t1", "a0"); err != nil || !found || got.Position.Quarantine == nil || *got.Position.Quarantine != *q.Position.Quarantine || got.Currency != "" {
		t.Errorf("quarantined head %+v (found %v, %v)", got, found, err)
	}
	other := views.StatementDay{Date: "2026-03-01", Deposits: 9, Closing: 9, Movements: 1, FirstVersion: 2, LastVersion: 2}
	if err := s.SaveDays(ctx, "t2", "a1", []views.StatementDay{other}, views.StatementHead{Position: projection.Position{Version: 2}, Currency: "USD", Last: other}, 0); err != nil {
		t.Fatal(err)
	}
	if days, _ := s.Days(ctx, "t2", "a1", "2026-01-01", "2026-12-31"); !slices.Equal(days, []views.StatementDay{other}) {
		t.Errorf("t2's days %+v", days)
	}
	if days, _ := s.Days(ctx, "t1", "a1", "2026-03-01", "2026-03-01"); !slices.Equal(days, []views.StatementDay{d1}) {
		t.Errorf("t1's first day %+v, want %+v", days, d1)
	}
}

// ledger is an in-memory events table whose clock the test sets, commit
// by commit.
type ledger struct {
	tenant  string
	events  *eventstore.Store
	now     time.Time
	heads   map[string]eventstore.Head
	streams map[string]eventstore.StreamID
	commits []eventstore.Committed
}

func newLedger() *ledger {
	l := &ledger{tenant: tenant, heads: map[string]eventstore.Head{}, streams: map[string]eventstore.StreamID{}}
	n := 0
	l.events = eventstore.New(eventstore.NewMemoryBackend(),
		eventstore.WithIDs(func() string { n++; return fmt.Sprintf("id-%06d", n) }),
		eventstore.WithClock(func() time.Time { return l.now }))
	return l
}

// commit appends one commit of raw events to the account at the time at
// (RFC 3339).
func (l *ledger) commit(t testing.TB, id, at string, evs ...eventstore.NewEvent) eventstore.Committed {
	t.Helper()
	var err error
	if l.now, err = time.Parse(time.RFC3339Nano, at); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.streams[id]; !ok {
		s, err := app.AccountStream(l.tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		l.streams[id], l.heads[id] = s, eventstore.NewStream(s)
	}
	c, err := l.events.Append(context.Background(), l.heads[id], evs, eventstore.Metadata{Actor: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.heads[id] = c.Head
	l.commits = append(l.commits, c)
	return c
}

// step is one commit of ledger events on an account at a time.
type step struct {
	account, at string
	events      []account.Event
}

func (l *ledger) given(t testing.TB, steps []step) {
	t.Helper()
	for _, s := range steps {
		news, err := app.Encode(s.events)
		if err != nil {
			t.Fatal(err)
		}
		l.commit(t, s.account, s.at, news...)
	}
}

// statementsOf reads an account's head and every day.
func statementsOf(t testing.TB, store views.StatementStore, id string) (views.StatementHead, []views.StatementDay) {
	t.Helper()
	h, _, err := store.Head(context.Background(), tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	days, err := store.Days(context.Background(), tenant, id, "0000-01-01", "9999-12-31")
	if err != nil {
		t.Fatal(err)
	}
	return h, days
}

func opened(id string) account.Event {
	return account.AccountOpened{AccountID: id, Owner: "alice", Currency: "EUR"}
}

// The statement fold: given an account's commits, the days it has, however
// the commits are delivered.
func TestStatementFold(t *testing.T) {
	cases := []struct {
		name     string
		given    []step
		days     []views.StatementDay
		inFlight []string
	}{
		{
			name:  "an account opened without money has no day",
			given: []step{{"a", "2026-03-01T09:00:00Z", []account.Event{opened("a")}}},
		},
		{
			name: "the movements of one UTC day sum into it",
			given: []step{
				{"a", "2026-03-01T00:00:00Z", []account.Event{opened("a"), account.MoneyDeposited{Amount: 100, BalanceAfter: 100}}},
				{"a", "2026-03-01T12:00:00Z", []account.Event{account.MoneyDeposited{Amount: 5, BalanceAfter: 105}}},
				{"a", "2026-03-01T23:59:59.999999999Z", []account.Event{account.MoneyWithdrawn{Amount: 30, BalanceAfter: 75}}},
			},
			days: []views.StatementDay{
				{Date: "2026-03-01", Deposits: 105, Withdrawals: 30, Closing: 75, Movements: 3, FirstVersion: 2, LastVersion: 4},
			},
		},
		{
			name: "a day opens at the one before's closing, and days without movements are not kept",
			given: []step{
				{"a", "2026-03-01T09:00:00Z", []account.Event{opened("a")}},
				{"a", "2026-03-01T10:00:00Z", []account.Event{account.MoneyDeposited{Amount: 100, BalanceAfter: 100}}},
				{"a", "2026-03-04T00:00:00Z", []account.Event{account.MoneyWithdrawn{Amount: 140, BalanceAfter: -40}}},
				{"a", "2026-03-09T10:00:00Z", []account.Event{account.AccountClosed{}}},
			},
			days: []views.StatementDay{
				{Date: "2026-03-01", Deposits: 100, Closing: 100, Movements: 1, FirstVersion: 2, LastVersion: 2},
				{Date: "2026-03-04", Opening: 100, Withdrawals: 140, Closing: -40, Movements: 1, FirstVersion: 3, LastVersion: 3},
			},
		},
		{
			name: "the day is the UTC day of recordedAt, whatever the clock's zone",
			given: []step{
				{"a", "2026-03-01T23:30:00+02:00", []account.Event{opened("a"), account.MoneyDeposited{Amount: 10, BalanceAfter: 10}}},
				{"a", "2026-03-01T22:00:00-05:00", []account.Event{account.MoneyDeposited{Amount: 20, BalanceAfter: 30}}},
			},
			days: []views.StatementDay{
				{Date: "2026-03-01", Deposits: 10, Closing: 10, Movements: 1, FirstVersion: 2, LastVersion: 2},
				{Date: "2026-03-02", Opening: 10, Deposits: 20, Closing: 30, Movements: 1, FirstVersion: 3, LastVersion: 3},
			},
		},
		{
			name: "transfers out, in and refunded are told apart",
			given: []step{
				{"a", "2026-03-01T09:00:00Z", []account.Event{opened("a"), account.MoneyDeposited{Amount: 100, BalanceAfter: 100}}},
				// As the process manager writes them: the debit of tr1...
				{"a", "2026-03-01T10:00:00Z", []account.Event{account.TransferOutBegun{TransferID: "tr1", Amount: 30}, account.MoneyWithdrawn{Amount: 30, TransferID: "tr1", BalanceAfter: 70}}},
				// ...its end once the destination was paid...
				{"a", "2026-03-02T08:00:00Z", []account.Event{account.TransferOutEnded{TransferID: "tr1"}}},
				// ...the credit of tr2, from another account...
				{"a", "2026-03-02T09:00:00Z", []account.Event{account.MoneyDeposited{Amount: 50, TransferID: "tr2", BalanceAfter: 120}}},
				// ...and tr3, debited, then refunded when its destination refused.
				{"a", "2026-03-02T10:00:00Z", []account.Event{account.TransferOutBegun{TransferID: "tr3", Amount: 20}, account.MoneyWithdrawn{Amount: 20, TransferID: "tr3", BalanceAfter: 100}}},
				{"a", "2026-03-03T10:00:00Z", []account.Event{account.MoneyDeposited{Amount: 20, TransferID: "tr3", BalanceAfter: 120}, account.TransferOutEnded{TransferID: "tr3"}}},
			},
			days: []views.StatementDay{
				{Date: "2026-03-01", Deposits: 100, TransfersOut: 30, Closing: 70, Movements: 2, FirstVersion: 2, LastVersion: 4},
				{Date: "2026-03-02", Opening: 70, TransfersIn: 50, TransfersOut: 20, Closing: 100, Movements: 2, FirstVersion: 6, LastVersion: 8},
				{Date: "2026-03-03", Opening: 100, Refunds: 20, Closing: 120, Movements: 1, FirstVersion: 9, LastVersion: 9},
			},
		},
		{
			name: "a transfer out still in flight is kept for its credit to come",
			given: []step{
				{"a", "2026-03-01T09:00:00Z", []account.Event{opened("a"), account.MoneyDeposited{Amount: 100, BalanceAfter: 100}}},
				{"a", "2026-03-01T10:00:00Z", []account.Event{account.TransferOutBegun{TransferID: "tr9", Amount: 60}, account.MoneyWithdrawn{Amount: 60, TransferID: "tr9", BalanceAfter: 40}}},
				{"a", "2026-03-01T11:00:00Z", []account.Event{account.TransferOutBegun{TransferID: "tr8", Amount: 40}, account.MoneyWithdrawn{Amount: 40, TransferID: "tr8", BalanceAfter: 0}}},
			},
			days: []views.StatementDay{
				{Date: "2026-03-01", Deposits: 100, TransfersOut: 100, Closing: 0, Movements: 3, FirstVersion: 2, LastVersion: 6},
			},
			inFlight: []string{"tr8", "tr9"},
		},
	}
	deliveries := map[string]func(l *ledger, p *projection.Projection[views.StatementState]) error{
		"commit by commit": func(l *ledger, p *projection.Projection[views.StatementState]) error {
			for _, c := range l.commits {
				if err := p.Apply(context.Background(), c.Events); err != nil {
					return err
				}
			}
			return nil
		},
		"all at once": func(l *ledger, p *projection.Projection[views.StatementState]) error {
			var all []eventstore.Event
			for _, c := range l.commits {
				all = append(all, c.Events...)
			}
			return p.Apply(context.Background(), all)
		},
		"newest first, twice": func(l *ledger, p *projection.Projection[views.StatementState]) error {
			for range 2 {
				for _, c := range slices.Backward(l.commits) {
					if err := p.Apply(context.Background(), c.Events); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	for _, c := range cases {
		for how, deliver := range deliveries {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				l := newLedger()
				l.given(t, c.given)
				store := views.NewMemoryStatements()
				if err := deliver(l, views.NewStatements(store, l.events, nil, slog.New(slog.DiscardHandler))); err != nil {
					t.Fatal(err)
				}
				head, days := statementsOf(t, store, "a")
				if !slices.Equal(days, c.days) {
					t.Errorf("days\n got %+v\nwant %+v", days, c.days)
				}
				for _, d := range days {
					if d.Opening+d.Deposits+d.TransfersIn+d.Refunds-d.Withdrawals-d.TransfersOut != d.Closing {
						t.Errorf("day %+v does not add up to its closing", d)
					}
				}
				last := l.commits[len(l.commits)-1].Events
				end := last[len(last)-1]
				var lastDay views.StatementDay
				if len(c.days) > 0 {
					lastDay = c.days[len(c.days)-1]
				}
				if head.Position.Version != end.Version || !head.Position.UpdatedAt.Equal(end.RecordedAt) || head.Position.Quarantine != nil ||
					head.Currency != "EUR" || head.Last != lastDay || !slices.Equal(head.InFlight, c.inFlight) {
					t.Errorf("head %+v, want version %d at %s, EUR, last day %+v, in flight %v", head, end.Version, end.RecordedAt, lastDay, c.inFlight)
				}
			})
		}
	}
}

// More days than one write takes, delivered at once (as a rebuild hands a
// long stream over): the days are saved in several writes, and the head
// ends where the stream does.
func TestStatementsOfManyDays(t *testing.T) {
	l := newLedger()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	news, _ := app.Encode([]account.Event{opened("a")})
	l.commit(t, "a", start.Format(time.RFC3339), news...)
	var want []views.StatementDay
	n := 2*views.MaxStatementDays + 3
	for i := range n {
		news, _ := app.Encode([]account.Event{account.MoneyDeposited{Amount: int64(i + 1), BalanceAfter: int64((i + 1) * (i + 2) / 2)}})
		at := start.AddDate(0, 0, i)
		l.commit(t, "a", at.Format(time.RFC3339), news...)
		want = append(want, views.StatementDay{Date: at.Format(views.DateLayout), Opening: int64(i * (i + 1) / 2), Deposits: int64(i + 1),
			Closing: int64((i + 1) * (i + 2) / 2), Movements: 1, FirstVersion: int64(i + 2), LastVersion: int64(i + 2)})
	}
	store := &countingStatements{StatementStore: views.NewMemoryStatements()}
	var all []eventstore.Event
	for _, c := range l.commits {
		all = append(all, c.Events...)
	}
	if err := views.NewStatements(store, l.events, nil, nil).Apply(t.Context(), all); err != nil {
		t.Fatal(err)
	}
	head, days := statementsOf(t, store, "a")
	if !slices.Equal(days, want) {
		t.Errorf("%d days, want %d: first %+v, last %+v", len(days), len(want), days[0], days[len(days)-1])
	}
	if head.Position.Version != int64(n+1) || head.Last != want[n-1] {
		t.Errorf("head %+v, want version %d and the last day", head, n+1)
	}
	if want := []int{views.MaxStatementDays, views.MaxStatementDays, 3}; !slices.Equal(store.saves, want) {
		t.Errorf("saves of %v days, want %v", store.saves, want)
	}
}

// countingStatements records how many days each save wrote.
type countingStatements struct {
	views.StatementStore
	saves []int
}

func (c *countingStatements) SaveDays(ctx context.Context, tenant, accountID string, days []views.StatementDay, head views.StatementHead, expected int64) error {
	c.saves = append(c.saves, len(days))
	return c.StatementStore.SaveDays(ctx, tenant, accountID, days, head, expected)
}

// A poison event stops its account's statements where they were, with a
// dead letter; other accounts keep flowing, and a redrive that finds the
// stream still poisoned stops it again.
func TestStatementPoisonQuarantinesTheAccountOnly(t *testing.T) {
	l := newLedger()
	l.given(t, []step{
		{"p", "2026-03-01T09:00:00Z", []account.Event{opened("p"), account.MoneyDeposited{Amount: 10, BalanceAfter: 10}}},
		{"q", "2026-03-01T09:30:00Z", []account.Event{opened("q")}},
	})
	l.commit(t, "p", "2026-03-02T09:00:00Z", eventstore.NewEvent{Type: account.TypeMoneyDeposited, SchemaVersion: 1, Data: json.RawMessage(`{"amount":"lots"}`)})
	l.given(t, []step{
		{"p", "2026-03-02T10:00:00Z", []account.Event{account.MoneyDeposited{Amount: 1, BalanceAfter: 11}}},
		{"q", "2026-03-02T10:00:00Z", []account.Event{account.MoneyDeposited{Amount: 7, BalanceAfter: 7}}},
	})
	store, letters := views.NewMemoryStatements(), &projection.LetterBox{}
	p := views.NewStatements(store, l.events, projection.NewDeadLetters(letters), slog.New(slog.DiscardHandler))
	for _, c := range l.commits {
		if err := p.Apply(t.Context(), c.Events); err != nil {
			t.Fatal(err)
		}
	}
	head, days := statementsOf(t, store, "p")
	if q := head.Position.Quarantine; q == nil || q.At != 3 || head.Position.Version != 2 || len(days) != 1 || days[0].Closing != 10 {
		t.Errorf("p: head %+v, days %+v; want quarantined at 3 after version 2, with its first day", head, days)
	}
	if got := letters.Letters(); len(got) != 1 || got[0].View != views.StatementsView || got[0].Version != 3 {
		t.Errorf("dead letters %+v, want p's version 3 from the statements view", got)
	}
	if _, days := statementsOf(t, store, "q"); len(days) != 1 || days[0].Date != "2026-03-02" || days[0].Closing != 7 {
		t.Errorf("q's days %+v, want its deposit of 7 on 2026-03-02", days)
	}
	pos, err := p.Lift(t.Context(), l.streams["p"])
	if err != nil || pos.Quarantine == nil || pos.Quarantine.At != 3 || !strings.Contains(pos.Quarantine.Reason, "decode MoneyDeposited") {
		t.Errorf("lift of a still poisoned stream = %+v (%+v), %v; want quarantined again at 3", pos, pos.Quarantine, err)
	}
}

// A stream whose recordedAt goes backwards breaks what the events table
// promises: the view stops the stream rather than misplace a movement.
func TestStatementRefusesTimeGoingBackwards(t *testing.T) {
	l := newLedger()
	l.given(t, []step{{"a", "2026-03-02T09:00:00Z", []account.Event{opened("a"), account.MoneyDeposited{Amount: 10, BalanceAfter: 10}}}})
	evs := slices.Clone(l.commits[0].Events)
	late, err := app.Encode([]account.Event{account.MoneyDeposited{Amount: 5, BalanceAfter: 15}})
	if err != nil {
		t.Fatal(err)
	}
	back := evs[1]
	back.Version, back.ID, back.Data, back.RecordedAt = 3, "id-back", late[0].Data, time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	store := views.NewMemoryStatements()
	p := views.NewStatements(store, l.events, projection.NewDeadLetters(&projection.LetterBox{}), slog.New(slog.DiscardHandler))
	if err := p.Apply(t.Context(), append(evs, back)); err != nil {
		t.Fatal(err)
	}
	head, days := statementsOf(t, store, "a")
	if q := head.Position.Quarantine; q == nil || q.At != 3 || !strings.Contains(q.Reason, "before the account's last statement day 2026-03-02") ||
		len(days) != 1 || days[0].Closing != 10 {
		t.Errorf("head %+v, days %+v; want quarantined at 3, the day of 2026-03-02 kept", head, days)
	}
}
