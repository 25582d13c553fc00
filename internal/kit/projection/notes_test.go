package projection_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/projectiontest"
	"annals/internal/kit/testlog"
)

// The engine is tested with a model that knows no application: notebooks,
// streams of notes. Two views read them: "notes" keeps every note's text
// and refuses a note without one (its poison); "count" counts the notes
// written and reads no data, so the same event is poison in one view and
// fine in the other.
const (
	tenant      = "acme"
	category    = "notebook"
	noteWritten = "NoteWritten"
	// renamed is a type neither view uses.
	renamed = "NotebookRenamed"
)

func keepNotes(notes []string, e eventstore.Event) ([]string, error) {
	if e.Type != noteWritten {
		return notes, nil
	}
	var n struct{ Text string }
	if err := json.Unmarshal(e.Data, &n); err != nil || n.Text == "" {
		return notes, fmt.Errorf("note %d has no text", e.Version)
	}
	// Clip, so that the stored slice is never written through.
	return append(slices.Clip(notes), n.Text), nil
}

func countNotes(n int, e eventstore.Event) (int, error) {
	if e.Type == noteWritten {
		n++
	}
	return n, nil
}

// table is a Model over a view table in memory: one row per stream holding
// the state and the position, written only if the stored position is the
// expected one, as a DynamoDB conditional put is.
type table[S any] struct {
	fold func(S, eventstore.Event) (S, error)

	mu   sync.Mutex
	rows map[eventstore.StreamID]row[S]
	// writes counts the writes tried per stream, refused ones included;
	// loads the reads.
	writes, loads map[eventstore.StreamID]int
	// fail, when set, decides an error for a write instead of the table.
	fail func(stream eventstore.StreamID, pos projection.Position) error
	// before, when set, runs before each write: another writer's moment.
	before func(stream eventstore.StreamID)
}

type row[S any] struct {
	state S
	pos   projection.Position
}

func newTable[S any](fold func(S, eventstore.Event) (S, error)) *table[S] {
	return &table[S]{fold: fold, rows: map[eventstore.StreamID]row[S]{}, writes: map[eventstore.StreamID]int{}, loads: map[eventstore.StreamID]int{}}
}

func (t *table[S]) Load(_ context.Context, stream eventstore.StreamID) (S, projection.Position, error) {
	t.mu.Lock()
	t.loads[stream]++
	t.mu.Unlock()
	r, _ := t.get(stream)
	return r.state, r.pos, nil
}

func (t *table[S]) Fold(s S, e eventstore.Event) (S, error) { return t.fold(s, e) }

// Kept lets the engine keep what it wrote: a row is all the state.
func (t *table[S]) Kept(s S, _ projection.Position) S { return s }

func (t *table[S]) Save(_ context.Context, stream eventstore.StreamID, s S, pos projection.Position, expected int64) error {
	t.mu.Lock()
	t.writes[stream]++
	fail, before := t.fail, t.before
	t.mu.Unlock()
	if before != nil {
		before(stream)
	}
	if fail != nil {
		if err := fail(stream, pos); err != nil {
			return err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rows[stream].pos.Version != expected {
		return projection.ErrStale
	}
	t.rows[stream] = row[S]{state: s, pos: copyPosition(pos)}
	return nil
}

// get returns the stream's row, if written, sharing nothing with the table.
func (t *table[S]) get(stream eventstore.StreamID) (row[S], bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.rows[stream]
	r.pos = copyPosition(r.pos)
	return r, ok
}

func (t *table[S]) tries(stream eventstore.StreamID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writes[stream]
}

func (t *table[S]) setFail(fail func(eventstore.StreamID, projection.Position) error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fail = fail
}

func copyPosition(p projection.Position) projection.Position {
	if p.Quarantine != nil {
		q := *p.Quarantine
		p.Quarantine = &q
	}
	return p
}

// reader is the events table as the views see it, made unreachable by
// setting err.
type reader struct {
	store *eventstore.Store
	err   error
}

func (r *reader) Read(ctx context.Context, stream eventstore.StreamID, from int64, limit int) (eventstore.EventPage, error) {
	if r.err != nil {
		return eventstore.EventPage{}, r.err
	}
	return r.store.Read(ctx, stream, from, limit)
}

// unreachable is a dead-letter queue that cannot be reached.
type unreachable struct{}

func (unreachable) Send(context.Context, string) error { return errors.New("connection refused") }

// fixture is the projector over both views, in memory.
type fixture struct {
	events *eventstore.Store
	reader *reader
	notes  *table[[]string]
	counts *table[int]
	box    *projection.LetterBox
	logs   *testlog.Buffer

	notesView *projection.Projection[[]string]
	countView *projection.Projection[int]
	h         *projection.Handler
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{events: projectiontest.NewEvents(), notes: newTable(keepNotes), counts: newTable(countNotes),
		box: &projection.LetterBox{}, logs: &testlog.Buffer{}}
	f.reader = &reader{store: f.events}
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	dead := projection.NewDeadLetters(f.box)
	f.notesView = projection.New("notes", category, projection.Model[[]string](f.notes), f.reader, dead, log)
	f.countView = projection.New("count", category, projection.Model[int](f.counts), f.reader, dead, log)
	f.h = projection.NewHandler(dead, log, f.notesView, f.countView)
	return f
}

// handle runs the projector over records and returns the sequence numbers
// it reports as failed.
func (f *fixture) handle(t testing.TB, records ...events.KinesisEventRecord) []string {
	t.Helper()
	return projectiontest.Failures(t, f.h, records...)
}

// describe renders where a stream stands in both views, as
// "notes [n1 n2] v2 q3 | count 3 v3": the state, the version, the
// version it is quarantined at, if any; "none" for a stream never written.
func (f *fixture) describe(stream eventstore.StreamID) string {
	render := func(state any, r projection.Position, ok bool) string {
		if !ok {
			return "none"
		}
		s := fmt.Sprintf("%v v%d", state, r.Version)
		if r.Quarantine != nil {
			s += fmt.Sprintf(" q%d", r.Quarantine.At)
		}
		return s
	}
	n, nok := f.notes.get(stream)
	c, cok := f.counts.get(stream)
	return "notes " + render(n.state, n.pos, nok) + " | count " + render(c.state, c.pos, cok)
}

// notebook appends commits to one stream.
type notebook struct {
	stream  eventstore.StreamID
	head    eventstore.Head
	commits []eventstore.Committed
}

func newNotebook(t testing.TB, cat, id string) *notebook {
	t.Helper()
	s, err := eventstore.NewStreamID(tenant, cat, id)
	if err != nil {
		t.Fatal(err)
	}
	return &notebook{stream: s, head: eventstore.NewStream(s)}
}

// write appends one commit of the events spelled in words: "rename" is an
// event of a type no view uses, "bad" a note without a text (poison to the
// notes view), any other word a note with that text.
func (n *notebook) write(t testing.TB, store *eventstore.Store, words string) eventstore.Committed {
	t.Helper()
	var evs []eventstore.NewEvent
	for _, w := range strings.Fields(words) {
		e := eventstore.NewEvent{Type: noteWritten, SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"text":%q}`, w))}
		switch w {
		case "rename":
			e = eventstore.NewEvent{Type: renamed, SchemaVersion: 1, Data: json.RawMessage(`{"title":"new"}`)}
		case "bad":
			e.Data = json.RawMessage(`{}`)
		}
		evs = append(evs, e)
	}
	c, err := store.Append(context.Background(), n.head, evs, eventstore.Metadata{CommandID: fmt.Sprint("cmd-", len(n.commits))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.head = c.Head
	n.commits = append(n.commits, c)
	return c
}

// event is the stream's event at version v, as appended.
func (n *notebook) event(v int64) (eventstore.Event, bool) {
	for _, c := range n.commits {
		for _, e := range c.Events {
			if e.Version == v {
				return e, true
			}
		}
	}
	return eventstore.Event{}, false
}

// record is the Kinesis record the fan-out makes of a commit.
func record(t testing.TB, seq int, c eventstore.Committed) events.KinesisEventRecord {
	t.Helper()
	return projectiontest.Record(t, seq, c.Events)
}

// letters renders the dead letters sent so far: a view's as
// "view stream@version", with " without event" when it does not carry the
// event; a record's that did not decode as "record stream". Streams go by
// their id alone.
func (f *fixture) letters() []string {
	var out []string
	for _, l := range f.box.Letters() {
		s := l.Stream
		if st, err := eventstore.ParseStreamKey(l.Stream); err == nil {
			s = st.ID
		}
		if l.View == "" {
			out = append(out, "record "+s)
			continue
		}
		line := l.View + " " + s + "@" + strconv.FormatInt(l.Version, 10)
		if l.Event == nil {
			line += " without event"
		}
		out = append(out, line)
	}
	return out
}
