package rebuild_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/rebuild"
	"annals/internal/localaws/awstest"
)

// count is the writers' fold: it reads no data, so the poison is written
// like any other note, and snapshots of it land in the table as they would.
var count = eventstore.Fold[int]{Name: notebooktest.Category, LogicVersion: 1, StateSchema: 1, Evolve: notebooktest.CountNotes}

// table is the table of the view a rebuild is tested with, over
// notebooktest's model: it keeps every notebook note's text, refuses a
// note without one (its poison), and keeps no shelves.
type table = notebooktest.Table[[]string]

func newTable() *table { return notebooktest.NewTable(notebooktest.KeepNotes) }

// quiet drops the views' warnings: the tests provoke them on purpose.
var quiet = slog.New(slog.DiscardHandler)

// newView is the notes view over a table, filling gaps from events.
func newView(t *table, events projection.EventReader) *projection.Projection[[]string] {
	return projection.New("notes", notebooktest.Category, projection.Model[[]string](t), events, projection.NewDeadLetters(&projection.LetterBox{}), quiet)
}

// eachBackend runs test against the in-memory backend and DynamoDB's (as
// moto serves it), with a table of its own each; on DynamoDB, meter counts
// the requests sent (it is nil on memory).
func eachBackend(t *testing.T, test func(t *testing.T, b eventstore.Backend, meter *rebuild.Meter)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, eventstore.NewMemoryBackend(), nil)
	})
	t.Run("dynamodb", func(t *testing.T) {
		t.Parallel()
		meter := rebuild.NewMeter()
		db := dynamodb.NewFromConfig(awstest.Config(t, "DYNAMODB"), meter.Register)
		test(t, dynamostore.New(db, awstest.Table(t, db, "EventsTable")), meter)
	})
}

// world is the events table, its writers, and the live view kept as the
// projector keeps it: every commit applied as it is written.
type world struct {
	store *eventstore.Store
	agg   *eventstore.Aggregate[int]
	live  *table
	view  *projection.Projection[[]string]

	mu      sync.Mutex
	writers map[eventstore.StreamID]*writer
}

type writer struct {
	cur eventstore.Current[int]
	n   int // notes written, for their texts
}

func newWorld(b eventstore.Backend, opts ...eventstore.Option) *world {
	store := eventstore.New(b, append([]eventstore.Option{eventstore.WithSnapshotEvery(3), eventstore.WithLogger(quiet)}, opts...)...)
	w := &world{store: store, agg: eventstore.NewAggregate(store, count), live: newTable(), writers: map[eventstore.StreamID]*writer{}}
	w.view = newView(w.live, store)
	return w
}

// notes are n notes for the stream, numbered on from what it holds.
func (w *world) notes(s eventstore.StreamID, n int) []eventstore.NewEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	wr := w.writer(s)
	var out []eventstore.NewEvent
	for range n {
		wr.n++
		out = append(out, notebooktest.Note(fmt.Sprintf("%s note %d", s.ID, wr.n)))
	}
	return out
}

func (w *world) writer(s eventstore.StreamID) *writer {
	wr, ok := w.writers[s]
	if !ok {
		wr = &writer{cur: eventstore.Current[int]{Head: eventstore.NewStream(s)}}
		w.writers[s] = wr
	}
	return wr
}

// write appends one commit and hands it to the live view.
func (w *world) write(t testing.TB, s eventstore.StreamID, guard *eventstore.Guard, evs ...eventstore.NewEvent) {
	t.Helper()
	w.mu.Lock()
	wr := w.writer(s)
	next, committed, err := w.agg.Append(context.Background(), wr.cur, evs, eventstore.Metadata{Actor: "ann"}, guard)
	if err == nil {
		wr.cur = next
	}
	w.mu.Unlock()
	if err != nil {
		t.Fatalf("append to %s: %v", s, err)
	}
	if err := w.view.Apply(context.Background(), committed); err != nil {
		t.Fatalf("live view of %s: %v", s, err)
	}
}

// writeTogether appends one commit on each stream in one transaction.
func (w *world) writeTogether(t testing.TB, streams ...eventstore.StreamID) {
	t.Helper()
	var pending []eventstore.Pending
	for _, s := range streams {
		evs := w.notes(s, 1)
		w.mu.Lock()
		pending = append(pending, eventstore.Pending{Head: w.writer(s).cur.Head, Events: evs})
		w.mu.Unlock()
	}
	out, err := w.store.AppendAll(context.Background(), pending, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range streams {
		w.mu.Lock()
		wr := w.writer(s)
		wr.cur, err = w.agg.Advance(context.Background(), wr.cur, out[i])
		w.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.view.Apply(context.Background(), out[i].Events); err != nil {
			t.Fatal(err)
		}
	}
}

// notebooks are the notebook streams written, in no order.
func (w *world) notebooks() []eventstore.StreamID {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []eventstore.StreamID
	for s := range w.writers {
		if s.Category == notebooktest.Category {
			out = append(out, s)
		}
	}
	return out
}

// workload writes n notebooks of one to four commits of one to three
// events (a rename among them, a guarded commit), a commit of two
// notebooks at once, three shelves, and one notebook poisoned at its
// third version. It returns the poisoned notebook.
func (w *world) workload(t testing.TB, n int) eventstore.StreamID {
	t.Helper()
	for i := range n {
		s := notebooktest.Notebook(t, fmt.Sprintf("nb%02d", i))
		for c := range 1 + i%4 {
			evs := w.notes(s, 1+(i+c)%3)
			if (i+c)%5 == 0 {
				evs = append(evs, notebooktest.Rename())
			}
			var guard *eventstore.Guard
			if c == 1 {
				guard = &eventstore.Guard{Tenant: notebooktest.Tenant, CommandID: fmt.Sprintf("cmd-%s-%d", s.ID, c)}
			}
			w.write(t, s, guard, evs...)
		}
	}
	w.writeTogether(t, notebooktest.Notebook(t, "nb00"), notebooktest.Notebook(t, "nb01"))
	for i := range 3 {
		s := notebooktest.StreamID(t, notebooktest.Shelf, fmt.Sprintf("sh%d", i))
		w.write(t, s, nil, notebooktest.Note("a shelf's note"))
	}
	poisoned := notebooktest.Notebook(t, "poisoned")
	w.write(t, poisoned, nil, w.notes(poisoned, 2)...)
	w.write(t, poisoned, nil, notebooktest.Note(""))
	w.write(t, poisoned, nil, w.notes(poisoned, 1)...)
	return poisoned
}

// folded is the oracle: the stream's notes as KeepNotes folds its events,
// up to the first it refuses, and where that leaves the view.
func (w *world) folded(t testing.TB, s eventstore.StreamID) ([]string, projection.Position) {
	t.Helper()
	evs, err := rebuild.ReadTo(context.Background(), w.store, s, w.head(s))
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	var pos projection.Position
	for _, e := range evs {
		next, err := notebooktest.KeepNotes(notes, projection.Event{Event: e})
		if err != nil {
			pos.Quarantine = &projection.Quarantine{Reason: err.Error(), At: e.Version}
			break
		}
		notes, pos.Version, pos.UpdatedAt = next, e.Version, e.RecordedAt
	}
	return notes, pos
}

func (w *world) head(s eventstore.StreamID) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writer(s).cur.Head.Version()
}

// itemCount is how many items the table holds, read whole.
func itemCount(t testing.TB, store *eventstore.Store) int64 {
	t.Helper()
	var n int64
	sc := eventstore.CommitScan{}
	for {
		page, err := store.ScanCommits(context.Background(), sc)
		if err != nil {
			t.Fatal(err)
		}
		n += int64(page.Scanned)
		if page.Next == nil {
			return n
		}
		sc.Cursor = page.Next
	}
}
