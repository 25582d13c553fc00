package redrive_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/fanout"
	"annals/internal/kit/projection"
	"annals/internal/kit/redrive"
	"annals/internal/kit/sqsqueue"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

const tenant = "acme"

type writer struct {
	stream eventstore.StreamID
	head   eventstore.Head
}

func newAccount(t *testing.T, id string) *writer {
	st, err := app.AccountStream(tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return &writer{stream: st, head: eventstore.NewStream(st)}
}

func (a *writer) commit(t *testing.T, s *eventstore.Store, evs ...account.Event) eventstore.Committed {
	t.Helper()
	news, err := app.Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	return a.raw(t, s, news...)
}

func (a *writer) raw(t *testing.T, s *eventstore.Store, evs ...eventstore.NewEvent) eventstore.Committed {
	t.Helper()
	c, err := s.Append(t.Context(), a.head, evs, eventstore.Metadata{Actor: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.head = c.Head
	return c
}

// Republish puts back exactly the commits holding the requested versions,
// whole, in the public envelope, partitioned by stream key.
func TestRepublishSendsExactlyTheRange(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	kin := awstest.KinesisStream(t, "EventsStream")
	store := eventstore.New(dynamostore.New(db, table), eventstore.WithSnapshotEvery(2))
	a, other := newAccount(t, "a1"), newAccount(t, "b1")
	a.commit(t, store, account.AccountOpened{AccountID: "a1", Owner: "o", Currency: "EUR"}) // 1
	a.commit(t, store, account.MoneyDeposited{Amount: 5, BalanceAfter: 5},                  // 2
		account.MoneyDeposited{Amount: 5, BalanceAfter: 10}) // 3
	a.commit(t, store, account.MoneyWithdrawn{Amount: 1, BalanceAfter: 9}) // 4
	a.commit(t, store, account.MoneyWithdrawn{Amount: 1, BalanceAfter: 8}) // 5
	a.commit(t, store, account.MoneyWithdrawn{Amount: 1, BalanceAfter: 7}) // 6
	other.commit(t, store, account.AccountOpened{AccountID: "b1", Owner: "o", Currency: "EUR"})

	pub := fanout.New(fanout.Config{Kinesis: awstest.Kinesis(t), Stream: kin})
	res, err := redrive.Republish(t.Context(), db, table, pub, a.stream, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if res.Commits != 3 || res.From != 2 || res.To != 5 || res.Sent != 3 {
		t.Fatalf("republished %+v, want the 3 commits holding 2..5", res)
	}
	var got []string
	for _, r := range awstest.ReadKinesis(t, kin, 3) {
		evs, err := envelope.Decode(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(r.PartitionKey) != a.stream.Key() {
			t.Errorf("record partitioned by %s", aws.ToString(r.PartitionKey))
		}
		var vs []int64
		for _, e := range evs {
			vs = append(vs, e.Version)
		}
		got = append(got, fmt.Sprint(vs))
	}
	slices.Sort(got)
	if want := []string{"[2 3]", "[4]", "[5]"}; !slices.Equal(got, want) {
		t.Errorf("records hold versions %v, want %v", got, want)
	}

	if _, err := redrive.Republish(t.Context(), db, table, pub, a.stream, 7, 0); err == nil {
		t.Error("republishing beyond the head succeeded")
	}
}

// pipeline is the live projector over moto, with its dead-letter queue.
type pipeline struct {
	db          *dynamodb.Client
	eventsTable string
	events      *eventstore.Store
	accounts    *views.DynamoAccounts
	history     *views.DynamoHistory
	queue       string
	dead        *projection.DeadLetters
	log         *slog.Logger
	h           *projection.Handler
}

func newPipeline(t *testing.T) *pipeline {
	db := awstest.DynamoDB(t)
	p := &pipeline{db: db, eventsTable: awstest.Table(t, db, "EventsTable")}
	*p = pipeline{
		db: db, eventsTable: p.eventsTable,
		events:   eventstore.New(dynamostore.New(db, p.eventsTable)),
		accounts: views.NewDynamoAccounts(db, awstest.Table(t, db, "AccountsTable")),
		history:  views.NewDynamoHistory(db, awstest.Table(t, db, "HistoryTable")),
		queue:    awstest.Queue(t, "ProjectorDeadLetterQueue"),
		log:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	p.dead = projection.NewDeadLetters(sqsqueue.New(awstest.SQS(t), p.queue))
	p.h = projection.NewHandler(p.dead, p.log, p.lifters(p.events)...)
	return p
}

// lifters are the views over the live tables, reading events from store.
func (p *pipeline) lifters(store *eventstore.Store) []projection.View {
	return []projection.View{
		views.NewAccounts(p.accounts, store, p.dead, p.log),
		views.NewHistory(p.history, store, p.dead, p.log),
	}
}

func (p *pipeline) deliver(t *testing.T, seq int, key string, data []byte) {
	t.Helper()
	resp, err := p.h.Handle(t.Context(), events.KinesisEvent{Records: []events.KinesisEventRecord{{
		Kinesis: events.KinesisRecord{PartitionKey: key, SequenceNumber: fmt.Sprintf("4959%020d", seq), Data: data},
	}}})
	if err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("projector: %v %v", resp.BatchItemFailures, err)
	}
}

func (p *pipeline) queued(t *testing.T) int {
	out, err := awstest.SQS(t).GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(p.queue), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		var k int
		fmt.Sscan(v, &k)
		n += k
	}
	return n
}

func asLifters(views []projection.View) []redrive.Lifter {
	var out []redrive.Lifter
	for _, v := range views {
		out = append(out, v.(redrive.Lifter))
	}
	return out
}

// A record whose envelope did not decode quarantines its stream in every
// view; draining the dead-letter queue lifts it, catches it up from the
// events table and deletes the letter.
func TestDrainLiftsAndDeletesTheLetter(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	a := newAccount(t, "a1")
	c1 := a.commit(t, p.events, account.AccountOpened{AccountID: "a1", Owner: "o", Currency: "EUR"})
	data, _ := envelope.Encode(c1.Events)
	p.deliver(t, 1, a.stream.Key(), data)
	a.commit(t, p.events, account.MoneyDeposited{Amount: 9, BalanceAfter: 9})
	p.deliver(t, 2, a.stream.Key(), []byte("not an envelope"))
	a.commit(t, p.events, account.MoneyWithdrawn{Amount: 2, BalanceAfter: 7})

	row, _, _ := p.accounts.Account(t.Context(), tenant, "a1")
	if row.Quarantine == nil || row.Version != 1 {
		t.Fatalf("a1 = %+v, want quarantined after version 1", row)
	}
	// Every view, as `annals redrive --from-queue` drains by default: the
	// transfer view keeps no account streams and is not asked.
	transfers := views.NewTransfers(views.NewMemoryTransfers(), p.events, p.dead, p.log)
	res, err := redrive.Drain(t.Context(), awstest.SQS(t), p.queue, 30, asLifters(append(p.lifters(p.events), transfers))...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Letters != 1 || res.Deleted != 1 || len(res.Kept) != 0 || len(res.Lifted[a.stream.Key()]) != 2 {
		t.Fatalf("drained %+v, want one letter lifted in both views and deleted", res)
	}
	row, _, _ = p.accounts.Account(t.Context(), tenant, "a1")
	want := account.Account{ID: "a1", Owner: "o", Currency: "EUR", Balance: 7, Status: account.StatusOpen}
	if row.Quarantine != nil || row.Version != 3 || !reflect.DeepEqual(row.State, want) {
		t.Errorf("a1 = %+v, want healed at 3 with %+v", row, want)
	}
	pos, _, _ := p.history.Position(t.Context(), tenant, "a1")
	if entries, _ := p.history.Transactions(t.Context(), tenant, "a1", 0, 10); pos.Quarantine != nil || pos.Version != 3 || len(entries) != 2 {
		t.Errorf("history of a1 at %+v with %d entries, want healed at 3 with 2", pos, len(entries))
	}
	if n := p.queued(t); n != 0 {
		t.Errorf("%d messages left on the queue", n)
	}
}

// A lift of a stream whose poison is still there quarantines it again and
// says so; once the cause is fixed (here: an upcaster that reads the old
// event), the lift heals it.
func TestLiftHealsOnlyOnceTheCauseIsFixed(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	a := newAccount(t, "a1")
	var seq int
	deliver := func(c eventstore.Committed) {
		seq++
		data, _ := envelope.Encode(c.Events)
		p.deliver(t, seq, a.stream.Key(), data)
	}
	deliver(a.commit(t, p.events, account.AccountOpened{AccountID: "a1", Owner: "o", Currency: "EUR"}))
	deliver(a.raw(t, p.events, eventstore.NewEvent{Type: account.TypeMoneyDeposited, SchemaVersion: 1, Data: json.RawMessage(`{"amount":12}`)}))
	deliver(a.commit(t, p.events, account.MoneyDeposited{Amount: 1, BalanceAfter: 13}))

	lifted, err := redrive.Lift(t.Context(), a.stream, asLifters(p.lifters(p.events))...)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lifted {
		if l.Healed() || l.Position.Quarantine.At != 2 {
			t.Errorf("%s, want still quarantined at 2", l)
		}
	}

	// The fix: version 1 of MoneyDeposited had no balanceAfter; read it as
	// the amount (the account was empty).
	fixed := eventstore.New(dynamostore.New(p.db, p.eventsTable), eventstore.WithUpcaster(func(e eventstore.Event) (eventstore.Event, error) {
		if e.Type == account.TypeMoneyDeposited && string(e.Data) == `{"amount":12}` {
			e.Data = json.RawMessage(`{"amount":12,"reference":"","balanceAfter":12}`)
		}
		return e, nil
	}))
	lifted, err = redrive.Lift(t.Context(), a.stream, asLifters(p.lifters(fixed))...)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lifted {
		if !l.Healed() || l.Position.Version != 3 {
			t.Errorf("%s, want healed at 3", l)
		}
	}
	row, _, _ := p.accounts.Account(t.Context(), tenant, "a1")
	if row.State.Balance != 13 {
		t.Errorf("balance %d, want 13", row.State.Balance)
	}
}
