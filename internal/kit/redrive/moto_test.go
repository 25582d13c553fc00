package redrive_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/kit/fanout"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/projection/projectiontest"
	"annals/internal/kit/redrive"
	"annals/internal/kit/sqsqueue"
	"annals/internal/localaws/awstest"
)

// Republish puts back exactly the commits holding the requested versions,
// whole, in the public envelope, partitioned by stream key, from a table
// where snapshots sit between the commits.
func TestRepublishSendsExactlyTheRange(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	kin := awstest.KinesisStream(t, "EventsStream")
	store := eventstore.New(dynamostore.New(db, table), eventstore.WithSnapshotEvery(2))
	notebooks := eventstore.NewAggregate(store, eventstore.Fold[int]{Name: notebooktest.Category, LogicVersion: 1, StateSchema: 1, Evolve: notebooktest.CountNotes})
	s := notebooktest.Notebook(t, "nb1")
	cur := eventstore.Current[int]{Head: eventstore.NewStream(s)}
	for _, n := range []int{1, 2, 1, 1, 1} { // [1] [2 3] [4] [5] [6], snapshots after 3 and 4 and 6
		evs := make([]eventstore.NewEvent, n)
		for i := range evs {
			evs[i] = notebooktest.Note(fmt.Sprint("note ", cur.Head.Version()+int64(i)+1))
		}
		var err error
		if cur, _, err = notebooks.Append(t.Context(), cur, evs, eventstore.Metadata{Actor: "ann"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	notebooktest.NewWriter(notebooktest.Notebook(t, "nb2")).Write(t, store, notebooktest.Note("other"))

	pub := fanout.New(fanout.Config{Kinesis: awstest.Kinesis(t), Stream: kin})
	res, err := redrive.Republish(t.Context(), store, pub, s, 3, 5)
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
		if aws.ToString(r.PartitionKey) != s.Key() {
			t.Errorf("record partitioned by %s", aws.ToString(r.PartitionKey))
		}
		got = append(got, storetest.CommitVersions([][]eventstore.Event{evs}))
	}
	slices.Sort(got)
	if want := []string{"[2 3]", "[4]", "[5]"}; !slices.Equal(got, want) {
		t.Errorf("records hold versions %v, want %v", got, want)
	}

	if _, err := redrive.Republish(t.Context(), store, pub, s, 7, 0); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("republishing beyond the head: %v, want ErrNotFound", err)
	}
}

// pipeline is the projector over the three views, the events table on
// moto and the projector's dead-letter queue.
type pipeline struct {
	db          *dynamodb.Client
	eventsTable string
	events      *eventstore.Store
	tables      *tables
	queue       string
	dead        *projection.DeadLetters
	log         *slog.Logger
	h           *projection.Handler
}

func newPipeline(t *testing.T) *pipeline {
	db := awstest.DynamoDB(t)
	p := &pipeline{db: db, eventsTable: awstest.Table(t, db, "EventsTable"), tables: newTables(),
		queue: awstest.Queue(t, "ProjectorDeadLetterQueue"),
		log:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	p.events = eventstore.New(dynamostore.New(db, p.eventsTable))
	p.dead = projection.NewDeadLetters(sqsqueue.New(awstest.SQS(t), p.queue))
	p.h = p.views(p.events).projector(p.dead, p.log)
	return p
}

// views are the views over the pipeline's tables, reading events from
// store.
func (p *pipeline) views(store *eventstore.Store) viewSet {
	return p.tables.views(store, p.dead, p.log)
}

// deliver hands the projector a record, which it must take.
func (p *pipeline) deliver(t *testing.T, r events.KinesisEventRecord) {
	t.Helper()
	if failed := projectiontest.Failures(t, p.h, r); len(failed) > 0 {
		t.Fatalf("projector failed %v", failed)
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

// A record whose envelope did not decode quarantines its stream in every
// view that keeps it; draining the dead-letter queue lifts it there,
// catches it up from the events table and deletes the letter.
func TestDrainLiftsAndDeletesTheLetter(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	w := notebooktest.NewWriter(notebooktest.Notebook(t, "nb1"))
	c1 := w.Write(t, p.events, notebooktest.Note("first"))
	p.deliver(t, projectiontest.Record(t, 1, c1.Events))
	w.Write(t, p.events, notebooktest.Note("second"))
	p.deliver(t, projectiontest.RawRecord(2, w.Stream.Key(), []byte("not an envelope")))
	w.Write(t, p.events, notebooktest.Note("third"), notebooktest.Note("fourth"))

	if r, _ := p.tables.notes.Get(w.Stream); r.Pos.Quarantine == nil || r.Pos.Version != 1 {
		t.Fatalf("nb1 = %+v, want quarantined after version 1", r)
	}
	// Every view, as `annals redrive --from-queue` drains by default: the
	// labels view keeps no notebooks and is not asked.
	res, err := redrive.Drain(t.Context(), awstest.SQS(t), p.queue, 30, p.views(p.events).lifters()...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Letters != 1 || res.Deleted != 1 || len(res.Kept) != 0 || len(res.Lifted[w.Stream.Key()]) != 2 {
		t.Fatalf("drained %+v, want one letter lifted in both notebook views and deleted", res)
	}
	notes, _ := p.tables.notes.Get(w.Stream)
	counts, _ := p.tables.counts.Get(w.Stream)
	if want := []string{"first", "second", "third", "fourth"}; notes.Pos.Quarantine != nil || notes.Pos.Version != 4 || !slices.Equal(notes.State, want) {
		t.Errorf("notes of nb1 %+v, want healed at 4 with %q", notes, want)
	}
	if counts.Pos.Quarantine != nil || counts.Pos.Version != 4 || counts.State != 4 {
		t.Errorf("count of nb1 %+v, want healed at 4 with 4 notes", counts)
	}
	if n := p.queued(t); n != 0 {
		t.Errorf("%d messages left on the queue", n)
	}
}

// A lift of a stream whose poison is still there quarantines it again and
// says so, with a new dead letter; once the cause is fixed (here: an
// upcaster that gives the old note a text), the lift heals it.
func TestLiftHealsOnlyOnceTheCauseIsFixed(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	w := notebooktest.NewWriter(notebooktest.Notebook(t, "nb1"))
	var seq int
	deliver := func(c eventstore.Committed) {
		seq++
		p.deliver(t, projectiontest.Record(t, seq, c.Events))
	}
	deliver(w.Write(t, p.events, notebooktest.Note("first")))
	deliver(w.Write(t, p.events, eventstore.NewEvent{Type: notebooktest.NoteWritten, SchemaVersion: 1, Data: json.RawMessage(`{"body":"old"}`)}))
	deliver(w.Write(t, p.events, notebooktest.Note("third")))
	if n := p.queued(t); n != 1 {
		t.Fatalf("%d dead letters after the poison, want 1", n)
	}

	lifted, err := redrive.Lift(t.Context(), w.Stream, p.views(p.events).lifters()...)
	if err != nil {
		t.Fatal(err)
	}
	byView := map[string]redrive.Lifted{}
	for _, l := range lifted {
		byView[l.View] = l
	}
	if l := byView["notes"]; l.Healed() || l.Position.Quarantine.At != 2 || l.Position.Version != 1 {
		t.Errorf("%s, want still quarantined at 2", l)
	}
	if l := byView["count"]; !l.Healed() || l.Position.Version != 3 || len(lifted) != 2 {
		t.Errorf("lifted %v, want the count view at 3 and the notes view", lifted)
	}
	if n := p.queued(t); n != 2 {
		t.Errorf("%d dead letters after a lift that did not heal, want a new one", n)
	}

	// The fix: version 1 of a note kept its text as "body".
	fixed := eventstore.New(dynamostore.New(p.db, p.eventsTable), eventstore.WithUpcaster(func(e eventstore.Event) (eventstore.Event, error) {
		var old struct{ Body string }
		if e.Type == notebooktest.NoteWritten && json.Unmarshal(e.Data, &old) == nil && old.Body != "" {
			e.Data, _ = json.Marshal(map[string]string{"text": old.Body})
		}
		return e, nil
	}))
	lifted, err = redrive.Lift(context.Background(), w.Stream, p.views(fixed).lifters()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lifted {
		if !l.Healed() || l.Position.Version != 3 {
			t.Errorf("%s, want healed at 3", l)
		}
	}
	want := []string{"first", "old", "third"}
	if got, _ := p.tables.notes.Get(w.Stream); !slices.Equal(got.State, want) {
		t.Errorf("notes %q, want %q", got.State, want)
	}
}
