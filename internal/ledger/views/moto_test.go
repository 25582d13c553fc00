package views_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/projectiontest"
	"annals/internal/kit/sqsqueue"
	"annals/internal/ledger/account"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// motoProjector is the projector over moto: the events table written by
// the real event store, the accounts table and the dead-letter queue, all
// made from template.yaml.
type motoProjector struct {
	events  *eventstore.Store
	view    *views.DynamoAccounts
	history *views.DynamoHistory
	queue   string
	h       *projection.Handler
}

func newMotoProjector(t *testing.T, viewDB views.DynamoDB) *motoProjector {
	t.Helper()
	db := awstest.DynamoDB(t)
	eventsTable := awstest.Table(t, db, "EventsTable")
	accountsTable := awstest.Table(t, db, "AccountsTable")
	historyTable := awstest.Table(t, db, "HistoryTable")
	if viewDB == nil {
		viewDB = db
	}
	m := &motoProjector{
		events:  eventstore.New(dynamostore.New(db, eventsTable)),
		view:    views.NewDynamoAccounts(viewDB, accountsTable),
		history: views.NewDynamoHistory(db, historyTable),
		queue:   awstest.Queue(t, "ProjectorDeadLetterQueue"),
	}
	log := slog.New(slog.NewJSONHandler(t.Output(), nil))
	dead := projection.NewDeadLetters(sqsqueue.New(awstest.SQS(t), m.queue))
	m.h = projection.NewHandler(views.Decode, dead, log,
		views.NewAccounts(m.view, m.events, dead, log),
		views.NewHistory(m.history, m.events, dead, log))
	return m
}

func (m *motoProjector) handle(t *testing.T, records []events.KinesisEventRecord) []string {
	t.Helper()
	return projectiontest.Failures(t, m.h, records...)
}

// Commits delivered out of order, more than once, and with one of them
// never delivered, still make a view equal to the domain's fold of each
// stream; the owner index finds the accounts.
func TestViewEqualsTheFoldWhateverTheDelivery(t *testing.T) {
	t.Parallel()
	m := newMotoProjector(t, nil)
	s := m.events

	a, b, c, d := newAccount(t, "a1"), newAccount(t, "a2"), newAccount(t, "a3"), newAccount(t, "b1")
	a.commit(t, s, account.AccountOpened{AccountID: "a1", Owner: "alice", Currency: "EUR", OverdraftLimit: 100},
		account.MoneyDeposited{Amount: 50, Reference: "first", BalanceAfter: 50})
	a.balance = 50
	b.open(t, s, "alice")
	c.open(t, s, "alice")
	d.open(t, s, "bob")
	for i := range 4 {
		a.deposit(t, s, int64(10+i))
		b.deposit(t, s, 7)
		d.deposit(t, s, 1)
		if i == 1 {
			a.withdraw(t, s, 120)
			b.commit(t, s, account.TransferOutBegun{TransferID: "tr1", Amount: 3})
		}
	}
	c.deposit(t, s, 9)
	c.withdraw(t, s, 9)
	c.commit(t, s, account.AccountClosed{})

	var all []eventstore.Committed
	for _, x := range []*writer{a, b, c, d} {
		all = append(all, x.commits...)
	}
	// Shuffled, split in three batches, each resending some of the one
	// before, and one commit that is not its stream's last never sent.
	rng := rand.New(rand.NewPCG(7, 11))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	dropped := slices.IndexFunc(all, func(x eventstore.Committed) bool {
		return x.Events[0].Stream.ID == "a1" && x.Events[0].Version == 4
	})
	dropped1 := all[dropped]
	all = slices.Delete(all, dropped, dropped+1)
	third := len(all) / 3
	batches := [][]eventstore.Committed{all[:third], all[third : 2*third], all[2*third:]}
	batches[1] = append(slices.Clone(batches[0][:3]), batches[1]...)
	batches[2] = append(batches[2], batches[1][len(batches[1])-2:]...)
	seq := 0
	for i, bc := range batches {
		var records []events.KinesisEventRecord
		for _, x := range bc {
			seq++
			records = append(records, record(t, seq, x))
		}
		if failed := m.handle(t, records); len(failed) != 0 {
			t.Fatalf("batch %d: failures %v", i, failed)
		}
	}
	for _, x := range []*writer{a, b, c, d} {
		checkFolded(t, m.view, s, x.stream)
		checkHistory(t, m.history, s, x.stream)
	}
	row, _, err := m.view.Account(t.Context(), tenant, "a1")
	if err != nil || row.Version < dropped1.Events[0].Version {
		t.Errorf("a1 at %d (%v), want past the dropped commit at %d", row.Version, err, dropped1.Events[0].Version)
	}

	owned, err := m.view.AccountsOfOwner(t.Context(), tenant, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range owned {
		ids = append(ids, fmt.Sprintf("%s:%s:%d", r.AccountID, r.State.Status, r.State.Balance))
	}
	want := fmt.Sprintf("[a1:open:%d a2:open:%d a3:closed:0]", a.balance, b.balance)
	if fmt.Sprint(ids) != want {
		t.Errorf("accounts of alice = %v, want %s", ids, want)
	}
}

// A poison event quarantines its stream only; its dead letter is on the
// queue.
func TestPoisonLandsInTheQueue(t *testing.T) {
	t.Parallel()
	m := newMotoProjector(t, nil)
	p, q := newAccount(t, "p1"), newAccount(t, "q1")
	p1 := p.open(t, m.events, "alice")
	bad := p.raw(t, m.events, eventstore.NewEvent{Type: account.TypeMoneyDeposited, SchemaVersion: 1, Data: json.RawMessage(`{"amount":"lots"}`)})
	q1 := q.open(t, m.events, "alice")
	q2 := q.deposit(t, m.events, 4)

	failed := m.handle(t, []events.KinesisEventRecord{record(t, 1, p1), record(t, 2, bad), record(t, 3, q1), record(t, 4, q2)})
	if len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	row, _, err := m.view.Account(t.Context(), tenant, "p1")
	if err != nil || row.Quarantine == nil || row.Quarantine.At != 2 || row.Version != 1 {
		t.Fatalf("p1 = %+v (%v), want quarantined at 2 after version 1", row, err)
	}
	checkFolded(t, m.view, m.events, q.stream)

	var got []projection.DeadLetter
	for _, body := range awstest.ReadQueue(t, m.queue, 2) {
		var l projection.DeadLetter
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("dead letter %s: %v", body, err)
		}
		got = append(got, l)
	}
	slices.SortFunc(got, func(a, b projection.DeadLetter) int { return strings.Compare(a.View, b.View) })
	for i, view := range []string{"accounts", "history"} {
		if len(got) != 2 || got[i].Stream != p.stream.Key() || got[i].Version != 2 || got[i].View != view || len(got[i].Event) == 0 {
			t.Errorf("dead letters %+v, want p1's version 2 in the %s view", got, view)
		}
	}
}

// A throttled write on the real client is reported by sequence number after
// the SDK's retries, and holds back only its stream.
func TestThrottledWriteIsRetriedByTheMapping(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "PutItem" && n <= 2 {
			return awstest.Throttled("ProvisionedThroughputExceededException")
		}
		return nil
	}
	m := newMotoProjector(t, viewOver(t, w))
	a, b := newAccount(t, "a1"), newAccount(t, "b1")
	a1, a2 := a.open(t, m.events, "alice"), a.deposit(t, m.events, 2)
	b1 := b.open(t, m.events, "bob")

	records := []events.KinesisEventRecord{record(t, 1, a1), record(t, 2, a2), record(t, 3, b1)}
	failed := m.handle(t, records)
	if !slices.Equal(failed, []string{records[0].Kinesis.SequenceNumber}) {
		t.Fatalf("failures %v, want a1's first record", failed)
	}
	checkFolded(t, m.view, m.events, b.stream)
	if n := w.Counts()["PutItem"]; n != 3 {
		t.Errorf("%d PutItem requests, want 2 throttled for a1 and 1 for b1", n)
	}
	if failed := m.handle(t, records); len(failed) != 0 {
		t.Fatalf("failures %v on the retry", failed)
	}
	checkFolded(t, m.view, m.events, a.stream)
}

// viewOver is a DynamoDB client through w that gives up after 2 attempts.
func viewOver(t *testing.T, w *awstest.Wire) *dynamodb.Client {
	return awstest.DynamoDBOver(t, w, 2)
}
