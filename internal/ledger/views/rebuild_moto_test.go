package views_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/awsconfig"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/projectiontest"
	"annals/internal/kit/rebuild"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// stack is the events table, the live views kept by the projector, and a
// fresh table per view, all from template.yaml.
type stack struct {
	db              *dynamodb.Client
	meter           *rebuild.Meter
	eventsTable     string
	events          *eventstore.Store
	liveAccounts    *views.DynamoAccounts
	liveHistory     *views.DynamoHistory
	freshAccounts   *views.DynamoAccounts
	freshHistory    *views.DynamoHistory
	projector       *projection.Handler
	dead            *projection.DeadLetters
	log             *slog.Logger
	seq             int
	streams         []*ledgerAccount
	mu              sync.Mutex
	accountsT, hisT string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	meter := rebuild.NewMeter()
	db := dynamodb.NewFromConfig(awstest.Config(t, "DYNAMODB"), meter.Register)
	s := &stack{db: db, meter: meter, eventsTable: awstest.Table(t, db, "EventsTable"), log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	s.events = eventstore.New(dynamostore.New(db, s.eventsTable), eventstore.WithSnapshotEvery(4))
	s.liveAccounts = views.NewDynamoAccounts(db, awstest.Table(t, db, "AccountsTable"))
	s.liveHistory = views.NewDynamoHistory(db, awstest.Table(t, db, "HistoryTable"))
	s.accountsT, s.hisT = awstest.Table(t, db, "AccountsTable"), awstest.Table(t, db, "HistoryTable")
	s.freshAccounts = views.NewDynamoAccounts(db, s.accountsT)
	s.freshHistory = views.NewDynamoHistory(db, s.hisT)
	s.dead = projection.NewDeadLetters(&projection.LetterBox{})
	s.projector = projection.NewHandler(views.Decode, s.dead, s.log,
		views.NewAccounts(s.liveAccounts, s.events, s.dead, s.log),
		views.NewHistory(s.liveHistory, s.events, s.dead, s.log))
	return s
}

// rebuildWhileWriting rebuilds target's streams of category into its fresh
// table, 3 segments at a time, running write once while the first scan
// runs; write returns how many streams it added. The rebuild must settle in
// three passes (the scan, the new streams, nothing new) and see every
// stream: count gives how many there are.
func (s *stack) rebuildWhileWriting(t *testing.T, target rebuild.View, category string, count, write func() int) rebuild.Result {
	t.Helper()
	before, added := count(), 0
	res, err := rebuild.New(rebuild.Config{
		Events: s.events, View: target, Category: category, Segments: 3,
		AfterScan: func(ctx context.Context, pass int) error {
			if pass == 1 {
				added = write()
			}
			return nil
		},
	}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Settled || res.Passes != 3 {
		t.Errorf("%d passes, settled %v; want 3 (scan, new streams, nothing new)", res.Passes, res.Settled)
	}
	if res.Streams != count() || count() != before+added {
		t.Errorf("rebuild saw %d streams, the table has %d", res.Streams, count())
	}
	return res
}

// checkVerified asserts that a verification found the n streams of the
// fresh table equal to the live ones, none lagging.
func checkVerified(t *testing.T, rep rebuild.Report, err error, n int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Equal != n || !rep.OK() || len(rep.Lagging) > 0 {
		t.Fatalf("verify: %d of %d equal; lagging %v; differences %v", rep.Equal, n, rep.Lagging, rep.Differences)
	}
}

// ledgerAccount is one account stream the stack appends to.
type ledgerAccount struct {
	stream  eventstore.StreamID
	head    eventstore.Head
	balance int64
}

// commit appends one commit and feeds it to the live projector.
func (s *stack) commit(t testing.TB, a *ledgerAccount, evs ...eventstore.NewEvent) {
	t.Helper()
	s.commitAs(t, a, eventstore.Metadata{Actor: "alice"}, evs...)
}

func (s *stack) commitAs(t testing.TB, a *ledgerAccount, meta eventstore.Metadata, evs ...eventstore.NewEvent) {
	t.Helper()
	c, err := s.events.Append(t.Context(), a.head, evs, meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.head = c.Head
	s.project(t, c.Events)
}

// project hands one commit to the live projector, as the fan-out would.
func (s *stack) project(t testing.TB, commit []eventstore.Event) {
	t.Helper()
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	if failed := projectiontest.Failures(t, s.projector, projectiontest.Record(t, seq, commit)); len(failed) > 0 {
		t.Fatalf("projector: failed %v", failed)
	}
}

func (s *stack) ledger(t testing.TB, a *ledgerAccount, evs ...account.Event) {
	t.Helper()
	news, err := app.Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	s.commit(t, a, news...)
}

func (s *stack) open(t testing.TB, id string) *ledgerAccount {
	t.Helper()
	st, err := app.AccountStream(tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	a := &ledgerAccount{stream: st, head: eventstore.NewStream(st)}
	s.ledger(t, a, account.AccountOpened{AccountID: id, Owner: "owner-" + id[:1], Currency: "EUR", OverdraftLimit: 50})
	s.streams = append(s.streams, a)
	return a
}

func (s *stack) deposit(t testing.TB, a *ledgerAccount, amount int64) {
	a.balance += amount
	s.ledger(t, a, account.MoneyDeposited{Amount: amount, Reference: "r", BalanceAfter: a.balance})
}

func (s *stack) withdraw(t testing.TB, a *ledgerAccount, amount int64) {
	a.balance -= amount
	s.ledger(t, a, account.MoneyWithdrawn{Amount: amount, Reference: "w", BalanceAfter: a.balance})
}

// workload opens n accounts and moves money on them: single and
// multi-event commits, a transfer in flight, a closed account, and one
// stream poisoned by a deposit that does not decode.
func (s *stack) workload(t *testing.T, n int) (poisoned *ledgerAccount) {
	rng := rand.New(rand.NewPCG(3, 5))
	for i := range n {
		a := s.open(t, fmt.Sprintf("%c%02d", 'a'+i%3, i))
		for range rng.IntN(6) {
			if rng.IntN(3) == 0 && a.balance > 10 {
				s.withdraw(t, a, 1+rng.Int64N(a.balance))
			} else {
				s.deposit(t, a, 1+rng.Int64N(100))
			}
		}
		switch i % 7 {
		case 1: // two movements in one commit
			a.balance += 30
			s.ledger(t, a, account.MoneyDeposited{Amount: 40, BalanceAfter: a.balance + 10}, account.MoneyWithdrawn{Amount: 10, BalanceAfter: a.balance})
		case 2:
			s.ledger(t, a, account.TransferOutBegun{TransferID: "tr-" + a.stream.ID, Amount: 5})
		case 3:
			if a.balance > 0 {
				s.withdraw(t, a, a.balance)
			}
			s.ledger(t, a, account.AccountClosed{})
		}
	}
	poisoned = s.open(t, "p99")
	s.deposit(t, poisoned, 5)
	s.commit(t, poisoned, eventstore.NewEvent{Type: account.TypeMoneyDeposited, SchemaVersion: 1, Data: json.RawMessage(`{"amount":"lots"}`)})
	s.deposit(t, poisoned, 7)
	return poisoned
}

// checkFold asserts, with the test's own oracle, that an account row is the
// ledger's fold of its stream's events up to the row's version.
func checkFold(t *testing.T, s *stack, row views.AccountRow) {
	t.Helper()
	st, _ := app.AccountStream(row.Tenant, row.AccountID)
	page, err := s.events.Read(t.Context(), st, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var evs []account.Event
	for _, e := range page.Events {
		if e.Version > row.Version {
			break
		}
		ev, err := app.Decode(e)
		if err != nil {
			t.Fatalf("%s version %d: %v", st, e.Version, err)
		}
		evs = append(evs, ev)
	}
	want := account.Fold(evs)
	if len(want.TransfersInFlight) == 0 {
		want.TransfersInFlight = nil
	}
	if fmt.Sprint(want) != fmt.Sprint(row.State) {
		t.Errorf("%s at %d: view %+v, fold %+v", st, row.Version, row.State, want)
	}
}

// A rebuild of each view equals the live view the projector built and the
// domain's fold, stream by stream, including the streams written to and
// created between the scan and the catch-up, and a quarantined stream.
func TestRebuildEqualsTheLiveViewAndTheFold(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	poisoned := s.workload(t, 24)

	for _, view := range []string{views.AccountsView, views.HistoryView} {
		t.Run(view, func(t *testing.T) {
			var target rebuild.View
			if view == views.AccountsView {
				target = views.NewAccounts(s.freshAccounts, s.events, s.dead, s.log)
			} else {
				target = views.NewHistory(s.freshHistory, s.events, s.dead, s.log)
			}
			var added []*ledgerAccount
			res := s.rebuildWhileWriting(t, target, app.AccountCategory, func() int { return len(s.streams) }, func() int {
				// An existing stream moves on, two new ones appear.
				s.deposit(t, s.streams[0], 11)
				s.withdraw(t, s.streams[1], 1)
				for i := range 2 {
					added = append(added, s.open(t, fmt.Sprintf("n%s%d", view[:1], i)))
					s.deposit(t, added[i], 3)
				}
				return len(added)
			})

			var rep rebuild.Report
			var err error
			if view == views.AccountsView {
				rep, err = views.VerifyAccounts(t.Context(), s.freshAccounts, s.liveAccounts, s.events, res.StreamKeys, 4)
			} else {
				rep, err = views.VerifyHistory(t.Context(), s.freshHistory, s.liveHistory, s.events, res.StreamKeys, 4)
			}
			checkVerified(t, rep, err, len(s.streams))

			// The test's own oracle, independent of Verify.
			for _, a := range s.streams {
				if view == views.AccountsView {
					fresh, ok, err := s.freshAccounts.Account(t.Context(), tenant, a.stream.ID)
					live, _, _ := s.liveAccounts.Account(t.Context(), tenant, a.stream.ID)
					if err != nil || !ok {
						t.Fatalf("%s: found %v, %v", a.stream, ok, err)
					}
					if !reflect.DeepEqual(fresh, live) {
						t.Errorf("%s: fresh %+v, live %+v", a.stream, fresh, live)
					}
					checkFold(t, s, fresh)
					continue
				}
				fp, _, err := s.freshHistory.Position(t.Context(), tenant, a.stream.ID)
				lp, _, _ := s.liveHistory.Position(t.Context(), tenant, a.stream.ID)
				fe, _ := s.freshHistory.Transactions(t.Context(), tenant, a.stream.ID, 0, 1000)
				le, _ := s.liveHistory.Transactions(t.Context(), tenant, a.stream.ID, 0, 1000)
				if err != nil || !reflect.DeepEqual(fp, lp) || !reflect.DeepEqual(fe, le) {
					t.Errorf("%s: fresh %+v %+v, live %+v %+v (%v)", a.stream, fp, fe, lp, le, err)
				}
			}
			pos, err := target.(interface {
				Status(context.Context, eventstore.StreamID) (projection.Position, error)
			}).Status(t.Context(), poisoned.stream)
			if err != nil || pos.Quarantine == nil || pos.Quarantine.At != 3 || pos.Version != 2 {
				t.Errorf("poisoned stream in the fresh view: %+v (%v), want quarantined at 3 after 2", pos, err)
			}
			for _, a := range added {
				if pos, err := target.(interface {
					Status(context.Context, eventstore.StreamID) (projection.Position, error)
				}).Status(t.Context(), a.stream); err != nil || pos.Version != 2 {
					t.Errorf("%s created during the rebuild: at %d (%v), want 2", a.stream, pos.Version, err)
				}
			}
		})
	}
}

// Verify finds a fresh row that disagrees at the same version, and tells
// a lagging live view from a difference.
func TestVerifyFindsDifferences(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	a := s.open(t, "a1")
	s.deposit(t, a, 10)
	b := s.open(t, "b1")
	target := views.NewAccounts(s.freshAccounts, s.events, s.dead, s.log)
	res, err := rebuild.New(rebuild.Config{Events: s.events, View: target, Segments: 2}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	row, _, _ := s.freshAccounts.Account(t.Context(), tenant, "a1")
	row.State.Balance = 999
	if err := s.freshAccounts.PutAccount(t.Context(), row, row.Version); err != nil {
		t.Fatal(err)
	}
	// b1 moves on in the events table and the fresh view, not (yet) in the
	// live one.
	news, _ := app.Encode([]account.Event{account.MoneyDeposited{Amount: 4, BalanceAfter: 4}})
	if _, err := s.events.Append(t.Context(), b.head, news, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := target.Lift(t.Context(), b.stream); err != nil {
		t.Fatal(err)
	}
	rep, err := views.VerifyAccounts(t.Context(), s.freshAccounts, s.liveAccounts, s.events, res.StreamKeys, 2)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Differences) != 1 || len(rep.Lagging) != 1 || rep.Equal != 0 {
		t.Fatalf("report %+v, want a1 different and b1 lagging", rep)
	}
}

// The meter counts every attempt, as DynamoDB bills them, and the capacity
// DynamoDB reports.
func TestMeterCountsEveryAttempt(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "GetItem" && n == 1 {
			return awstest.Throttled("ThrottlingException")
		}
		return nil
	}
	meter := rebuild.NewMeter()
	db := dynamodb.NewFromConfig(awstest.Config(t, "DYNAMODB"), meter.Register, func(o *dynamodb.Options) {
		o.HTTPClient = awsconfig.SafeBodies(&http.Client{Transport: w})
		o.Retryer = retry.NewStandard(awstest.FastRetries(3))
	})
	table := awstest.Table(t, db, "AccountsTable")
	if _, _, err := views.NewDynamoAccounts(db, table).Account(t.Context(), tenant, "nobody"); err != nil {
		t.Fatal(err)
	}
	u := meter.Usage()
	if u.Requests["GetItem"] != 2 || u.Requests["CreateTable"] != 1 {
		t.Errorf("requests %v, want 2 GetItem (one throttled) and 1 CreateTable", u.Requests)
	}
	if u.ReadUnits <= 0 {
		t.Errorf("read units %v, want what DynamoDB reported for the GetItem", u.ReadUnits)
	}
}
