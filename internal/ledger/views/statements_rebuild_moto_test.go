package views_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// statementWorld is an events table on moto written over many days, with
// the live statement view the registry makes kept by hand as the projector
// would keep it.
type statementWorld struct {
	db       *dynamodb.Client
	table    string // the events table
	live     string // the live statements table
	events   *eventstore.Store
	now      time.Time
	step     time.Duration // how far the clock moves per commit
	heads    map[string]eventstore.Head
	balances map[string]int64
	accounts []eventstore.StreamID
}

func newStatementWorld(t *testing.T) *statementWorld {
	t.Helper()
	db := awstest.DynamoDB(t)
	w := &statementWorld{
		db: db, table: awstest.Table(t, db, "EventsTable"), live: awstest.Table(t, db, "StatementsTable"),
		now: time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC), step: 5 * time.Hour,
		heads: map[string]eventstore.Head{}, balances: map[string]int64{},
	}
	w.events = eventstore.New(dynamostore.New(db, w.table), eventstore.WithSnapshotEvery(4),
		eventstore.WithClock(func() time.Time { w.now = w.now.Add(w.step); return w.now }))
	return w
}

func (w *statementWorld) append(t *testing.T, id string, evs ...eventstore.NewEvent) {
	t.Helper()
	head, ok := w.heads[id]
	if !ok {
		s, err := app.AccountStream(tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		head = eventstore.NewStream(s)
		w.accounts = append(w.accounts, s)
	}
	c, err := w.events.Append(t.Context(), head, evs, eventstore.Metadata{Actor: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.heads[id] = c.Head
}

func (w *statementWorld) ledger(t *testing.T, id string, evs ...account.Event) {
	t.Helper()
	news, err := app.Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	w.append(t, id, news...)
}

func (w *statementWorld) move(t *testing.T, id string, amount int64) {
	t.Helper()
	w.balances[id] += amount
	if amount >= 0 {
		w.ledger(t, id, account.MoneyDeposited{Amount: amount, Reference: "in", BalanceAfter: w.balances[id]})
	} else {
		w.ledger(t, id, account.MoneyWithdrawn{Amount: -amount, Reference: "out", BalanceAfter: w.balances[id]})
	}
}

// transfer asks for a transfer and lets the process manager drive it.
func (w *statementWorld) transfer(t *testing.T, manager *app.Manager, id, from, to string, amount int64) transfer.Transfer {
	t.Helper()
	s, err := app.TransferStream(tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := app.EncodeTransfer(transfer.Requested{TransferID: id, FromAccountID: from, ToAccountID: to, Amount: amount, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.events.Append(t.Context(), eventstore.NewStream(s), evs, eventstore.Metadata{Actor: "alice"}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := manager.Drive(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// workload writes accounts with movements over weeks, completed and
// refunded transfers, an account with more days than one write of the
// view takes, and an account poisoned by a deposit that does not decode.
func (w *statementWorld) workload(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	manager := app.NewManager(w.events, slog.New(slog.DiscardHandler), 0)
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("a%02d", i)
		w.ledger(t, ids[i], opened(ids[i]))
	}
	for range 40 {
		id := ids[rng.IntN(len(ids))]
		if w.balances[id] > 10 && rng.IntN(3) == 0 {
			w.move(t, id, -1-rng.Int64N(w.balances[id]))
		} else {
			w.move(t, id, 1+rng.Int64N(500))
		}
	}
	for i := range 4 {
		from, to := ids[i], ids[i+4]
		w.move(t, from, 100)
		if got := w.transfer(t, manager, fmt.Sprintf("tr-%d", i), from, to, 60); got.Status != transfer.StatusCompleted {
			t.Fatalf("transfer %d: %+v", i, got)
		}
	}
	// A transfer to a closed account is debited, then refunded.
	w.ledger(t, "closed", opened("closed"))
	w.ledger(t, "closed", account.AccountClosed{})
	w.move(t, ids[9], 80)
	if got := w.transfer(t, manager, "tr-refund", ids[9], "closed", 70); got.Status != transfer.StatusFailed || !got.Refunded {
		t.Fatalf("transfer to a closed account: %+v", got)
	}
	// Resync the balances the process manager moved.
	for _, id := range ids {
		s, _ := app.AccountStream(tenant, id)
		cur, err := app.NewAccounts(w.events).Load(t.Context(), s)
		if err != nil {
			t.Fatal(err)
		}
		w.balances[id], w.heads[id] = cur.State.Balance, cur.Head
	}
	w.step = 25 * time.Hour
	w.ledger(t, "long", opened("long"))
	for range views.MaxStatementDays + 21 {
		w.move(t, "long", 3)
	}
	w.step = 7 * time.Hour
	w.ledger(t, "poisoned", opened("poisoned"))
	w.move(t, "poisoned", 5)
	w.append(t, "poisoned", eventstore.NewEvent{Type: account.TypeMoneyDeposited, SchemaVersion: 1, Data: json.RawMessage(`{"amount":"lots"}`)})
	w.move(t, "poisoned", 7)
}

// feed hands a view every account stream's commits, one at a time, as the
// projector does.
func (w *statementWorld) feed(t *testing.T, view views.Live) {
	t.Helper()
	for _, s := range w.accounts {
		for _, c := range commitsAfter(t, w.events, s, 0) {
			if err := view.Apply(t.Context(), c); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// annalsCLI builds cmd/annals, the operator's tool, once per test.
func annalsCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "annals")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/annals")
	cmd.Dir = awstest.ProjectRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/annals: %v\n%s", err, out)
	}
	return bin
}

// `annals rebuild statements --verify` rebuilds the view from the events
// table into a table it creates from template.yaml, and finds it equal to
// the live view and to the ledger's fold of every stream; the rebuilt days
// are the live ones, and add up to every account's balance.
func TestRebuildStatementsAndVerify(t *testing.T) {
	t.Parallel()
	w := newStatementWorld(t)
	w.workload(t)
	spec, ok := views.Named(views.StatementsView)
	if !ok {
		t.Fatalf("no %s view in the registry", views.StatementsView)
	}
	quiet := slog.New(slog.DiscardHandler)
	dead := projection.NewDeadLetters(&projection.LetterBox{})
	w.feed(t, spec.New(w.db, w.live, w.events, dead, quiet))

	fresh := awstest.Name(t, "fresh-statements")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w.db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(fresh)})
	})
	cmd := exec.Command(annalsCLI(t), "rebuild", views.StatementsView, "--table", fresh, "--segments", "3", "--verify")
	cmd.Env = append(os.Environ(), "EVENTS_TABLE="+w.table, spec.Env+"="+w.live)
	out, err := cmd.Output()
	t.Logf("annals rebuild %s:\n%s", views.StatementsView, out)
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("annals rebuild: %v\n%s", err, stderr)
	}
	n := len(w.accounts)
	for _, want := range []string{
		"rebuilt the statements view into " + fresh,
		fmt.Sprintf("streams      %d\n", n),
		"quarantined  1 stream(s)",
		fmt.Sprintf("%d stream(s), %d equal, 0 lagging, 0 different", n, n),
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the CLI's output lacks %q", want)
		}
	}

	// The registry's Verify, on the streams themselves.
	rep, err := spec.Verify(t.Context(), w.db, fresh, w.live, w.events, w.accounts, 4)
	if err != nil || !rep.OK() || rep.Equal != n || len(rep.Lagging) > 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}

	// The test's own oracle, independent of Verify.
	freshStore, liveStore := views.NewDynamoStatements(w.db, fresh), views.NewDynamoStatements(w.db, w.live)
	refunds := int64(0)
	for _, s := range w.accounts {
		fh, fd := statementsOf(t, freshStore, s.ID)
		lh, ld := statementsOf(t, liveStore, s.ID)
		if !reflect.DeepEqual(fh, lh) || !slices.Equal(fd, ld) {
			t.Errorf("%s: fresh %+v %+v, live %+v %+v", s, fh, fd, lh, ld)
		}
		if s.ID == "poisoned" {
			if q := fh.Position.Quarantine; q == nil || q.At != 3 || len(fd) != 1 || fd[0].Closing != 5 {
				t.Errorf("poisoned: %+v %+v, want quarantined at 3 after its deposit of 5", fh, fd)
			}
			continue
		}
		cur, err := app.NewAccounts(w.events).Load(t.Context(), s)
		if err != nil {
			t.Fatal(err)
		}
		closing := int64(0)
		for i, d := range fd {
			if d.Opening != closing || d.Opening+d.Deposits+d.TransfersIn+d.Refunds-d.Withdrawals-d.TransfersOut != d.Closing ||
				i > 0 && d.Date <= fd[i-1].Date {
				t.Errorf("%s: day %+v after a closing of %d", s, d, closing)
			}
			closing = d.Closing
			refunds += d.Refunds
		}
		if closing != cur.State.Balance || fh.Position.Version != cur.Head.Version() || fh.Currency != "EUR" {
			t.Errorf("%s: closes at %d at version %d, the account has %d at %d", s, closing, fh.Position.Version, cur.State.Balance, cur.Head.Version())
		}
		if s.ID == "long" && len(fd) != views.MaxStatementDays+21 {
			t.Errorf("long: %d days, want %d", len(fd), views.MaxStatementDays+21)
		}
	}
	if refunds != 70 {
		t.Errorf("refunds of %d in all, want the one of 70", refunds)
	}
}

// Verify tells a fresh view that disagrees with the events, or with the
// live view, from a live view that lags or misses a stream.
func TestVerifyStatementsFindsDifferences(t *testing.T) {
	l := newLedger()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		l.given(t, []step{
			{id, "2026-03-01T09:00:00Z", []account.Event{opened(id), account.MoneyDeposited{Amount: 10, BalanceAfter: 10}}},
			{id, "2026-03-02T09:00:00Z", []account.Event{account.MoneyWithdrawn{Amount: 4, BalanceAfter: 6}}},
		})
	}
	fresh, live := views.NewMemoryStatements(), views.NewMemoryStatements()
	freshView, liveView := views.NewStatements(fresh, l.events, nil, nil), views.NewStatements(live, l.events, nil, nil)
	for _, c := range l.commits {
		if err := freshView.Apply(t.Context(), c.Events); err != nil {
			t.Fatal(err)
		}
		if c.Events[0].Stream.ID != "d" {
			if err := liveView.Apply(t.Context(), c.Events); err != nil {
				t.Fatal(err)
			}
		}
	}
	// c moves on in the events and the fresh view only.
	l.given(t, []step{{"c", "2026-03-03T09:00:00Z", []account.Event{account.MoneyDeposited{Amount: 1, BalanceAfter: 7}}}})
	if err := freshView.Apply(t.Context(), l.commits[len(l.commits)-1].Events); err != nil {
		t.Fatal(err)
	}
	// The fresh view misreads a's second day, the live one b's.
	misread := func(id string) func(string, []views.StatementDay) []views.StatementDay {
		return func(account string, days []views.StatementDay) []views.StatementDay {
			if account == id && len(days) > 1 {
				days[1].Withdrawals++
			}
			return days
		}
	}
	var streams []eventstore.StreamID
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		streams = append(streams, l.streams[id])
	}
	rep, err := views.VerifyStatements(t.Context(), misreading{fresh, misread("a")}, misreading{live, misread("b")}, l.events, streams, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Differences) != 2 || !strings.HasPrefix(rep.Differences[0], l.streams["a"].Key()+": fresh statements at version 3 differ from the ledger's fold") ||
		!strings.HasPrefix(rep.Differences[1], l.streams["b"].Key()+": at version 3: days") {
		t.Errorf("differences %q, want a against the events and b against the live view", rep.Differences)
	}
	if len(rep.Lagging) != 2 || !strings.HasPrefix(rep.Lagging[0], l.streams["c"].Key()+": fresh at version 4, live at 3") ||
		!strings.HasPrefix(rep.Lagging[1], l.streams["d"].Key()+": missing from the live view") {
		t.Errorf("lagging %q, want c behind and d missing in the live view", rep.Lagging)
	}
	if rep.Equal != 1 || rep.Streams != 5 {
		t.Errorf("report %+v, want e equal of 5", rep)
	}
}

// misreading is a store whose days read back altered.
type misreading struct {
	views.StatementStore
	alter func(account string, days []views.StatementDay) []views.StatementDay
}

func (m misreading) Days(ctx context.Context, tenant, accountID, from, to string) ([]views.StatementDay, error) {
	days, err := m.StatementStore.Days(ctx, tenant, accountID, from, to)
	return m.alter(accountID, days), err
}
