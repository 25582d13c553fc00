package projection_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/projection/projectiontest"
	"annals/internal/kit/testlog"
)

// The engine is tested with notebooktest's model. Two views read it:
// "notes" keeps every note's text and refuses a note without one (its
// poison); "count" counts the notes written and reads no data, so the same
// event is poison in one view and fine in the other.

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
	notes  *notebooktest.Table[[]string]
	counts *notebooktest.Table[int]
	box    *projection.LetterBox
	logs   *testlog.Buffer

	notesView *projection.Projection[[]string]
	countView *projection.Projection[int]
	h         *projection.Handler
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{events: projectiontest.NewEvents(), notes: notebooktest.NewTable(notebooktest.KeepNotes), counts: notebooktest.NewTable(notebooktest.CountNotesView),
		box: &projection.LetterBox{}, logs: &testlog.Buffer{}}
	f.reader = &reader{store: f.events}
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	dead := projection.NewDeadLetters(f.box)
	f.notesView = projection.New("notes", notebooktest.Category, projection.Model[[]string](f.notes), f.reader, dead, log)
	f.countView = projection.New("count", notebooktest.Category, projection.Model[int](f.counts), f.reader, dead, log)
	f.h = projection.NewHandler(notebooktest.Decode, dead, log, f.notesView, f.countView)
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
	n, nok := f.notes.Get(stream)
	c, cok := f.counts.Get(stream)
	return "notes " + render(n.State, n.Pos, nok) + " | count " + render(c.State, c.Pos, cok)
}

// notebook is a writer that spells its commits in words.
type notebook struct{ *notebooktest.Writer }

func newNotebook(t testing.TB, category, id string) *notebook {
	t.Helper()
	return &notebook{notebooktest.NewWriter(notebooktest.StreamID(t, category, id))}
}

// write appends one commit of the events spelled in words: "rename" is an
// event of a type no view uses, "bad" a note without a text (poison to the
// notes view), any other word a note with that text.
func (n *notebook) write(t testing.TB, store *eventstore.Store, words string) eventstore.Committed {
	t.Helper()
	var evs []eventstore.NewEvent
	for _, w := range strings.Fields(words) {
		switch w {
		case "rename":
			evs = append(evs, notebooktest.Rename())
		case "bad":
			evs = append(evs, notebooktest.Note(""))
		default:
			evs = append(evs, notebooktest.Note(w))
		}
	}
	return n.Write(t, store, evs...)
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
