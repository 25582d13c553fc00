// Package notebooktest is the model the kit's view machinery (the
// projector, the repairs, the rebuild) is tested with, one that knows no
// application: notebooks, streams of notes, and shelves, streams of
// another category. It holds the events, the two folds the views keep, a
// view table in memory and a writer of commits.
package notebooktest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
)

const (
	Tenant = "acme"
	// Category is the notebooks' category, the one the views keep.
	Category = "notebook"
	// Shelf is a category of streams beside the notebooks.
	Shelf       = "shelf"
	NoteWritten = "NoteWritten"
	// Renamed is a type no view uses.
	Renamed = "NotebookRenamed"
)

// Text reads a note's text and refuses a note without one: the poison of
// the tests.
func Text(e eventstore.Event) (string, error) {
	var n struct{ Text string }
	if err := json.Unmarshal(e.Data, &n); err != nil || n.Text == "" {
		return "", fmt.Errorf("note %d has no text", e.Version)
	}
	return n.Text, nil
}

// Decode is the notebooks' projection.Decoder: a note's text.
func Decode(e eventstore.Event) (any, error) {
	if e.Stream.Category != Category || e.Type != NoteWritten {
		return nil, nil
	}
	return Text(e)
}

// KeepNotes folds a notebook into its notes' texts and refuses a note
// without one.
func KeepNotes(notes []string, e projection.Event) ([]string, error) {
	if e.Type != NoteWritten {
		return notes, nil
	}
	text, err := projection.Decoded(e, Text)
	if err != nil {
		return notes, err
	}
	// Clip, so that the stored slice is never written through.
	return append(slices.Clip(notes), text), nil
}

// CountNotes counts the notes written and reads no data, so the poison of
// KeepNotes is a note like any other to it.
func CountNotes(n int, e eventstore.Event) (int, error) {
	if e.Type == NoteWritten {
		n++
	}
	return n, nil
}

// CountNotesView is CountNotes as a view folds it.
func CountNotesView(n int, e projection.Event) (int, error) { return CountNotes(n, e.Event) }

// StreamID is the tenant's stream of the category with the id.
func StreamID(t testing.TB, category, id string) eventstore.StreamID {
	t.Helper()
	s, err := eventstore.NewStreamID(Tenant, category, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Notebook is the stream of the notebook with the id.
func Notebook(t testing.TB, id string) eventstore.StreamID {
	t.Helper()
	return StreamID(t, Category, id)
}

// Note is a note with the text; an empty one is poison to KeepNotes.
func Note(text string) eventstore.NewEvent {
	data, _ := json.Marshal(map[string]string{"text": text})
	return eventstore.NewEvent{Type: NoteWritten, SchemaVersion: 1, Data: data}
}

// Rename is an event of a type no view uses.
func Rename() eventstore.NewEvent {
	return eventstore.NewEvent{Type: Renamed, SchemaVersion: 1, Data: json.RawMessage(`{"title":"new"}`)}
}

// Writer appends commits to one stream at its head and keeps them.
type Writer struct {
	Stream  eventstore.StreamID
	Head    eventstore.Head
	Commits []eventstore.Committed
}

func NewWriter(s eventstore.StreamID) *Writer {
	return &Writer{Stream: s, Head: eventstore.NewStream(s)}
}

// Write appends one commit of the events.
func (w *Writer) Write(t testing.TB, store *eventstore.Store, evs ...eventstore.NewEvent) eventstore.Committed {
	t.Helper()
	c, err := store.Append(context.Background(), w.Head, evs, eventstore.Metadata{Actor: "ann"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Head = c.Head
	w.Commits = append(w.Commits, c)
	return c
}

// Event is the stream's event at version v, as appended.
func (w *Writer) Event(v int64) (eventstore.Event, bool) {
	for _, c := range w.Commits {
		for _, e := range c.Events {
			if e.Version == v {
				return e, true
			}
		}
	}
	return eventstore.Event{}, false
}

// Table is a projection.Model over a view table in memory: one row per
// stream holding the state and the position, written only if the stored
// position is the expected one, as a DynamoDB conditional put is.
type Table[S any] struct {
	fold func(S, projection.Event) (S, error)

	mu   sync.Mutex
	rows map[eventstore.StreamID]Row[S]
	// writes counts the writes tried per stream, refused ones included;
	// loads the reads.
	writes, loads map[eventstore.StreamID]int
	fail          func(stream eventstore.StreamID, pos projection.Position) error
	before        func(stream eventstore.StreamID)
}

// Row is what the table holds of a stream.
type Row[S any] struct {
	State S
	Pos   projection.Position
}

func NewTable[S any](fold func(S, projection.Event) (S, error)) *Table[S] {
	return &Table[S]{fold: fold, rows: map[eventstore.StreamID]Row[S]{}, writes: map[eventstore.StreamID]int{}, loads: map[eventstore.StreamID]int{}}
}

func (t *Table[S]) Load(_ context.Context, stream eventstore.StreamID) (S, projection.Position, error) {
	t.mu.Lock()
	t.loads[stream]++
	t.mu.Unlock()
	r, _ := t.Get(stream)
	return r.State, r.Pos, nil
}

func (t *Table[S]) Fold(s S, e projection.Event) (S, error) { return t.fold(s, e) }

// Kept lets the engine keep what it wrote: a row is all the state.
func (t *Table[S]) Kept(s S, _ projection.Position) S { return s }

// Loads is how many times the stream's row was read.
func (t *Table[S]) Loads(stream eventstore.StreamID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.loads[stream]
}

func (t *Table[S]) Save(_ context.Context, stream eventstore.StreamID, s S, pos projection.Position, expected int64) error {
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
	if t.rows[stream].Pos.Version != expected {
		return projection.ErrStale
	}
	t.rows[stream] = Row[S]{State: s, Pos: copyPosition(pos)}
	return nil
}

// Get returns the stream's row, if written; its position shares nothing
// with the table.
func (t *Table[S]) Get(stream eventstore.StreamID) (Row[S], bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.rows[stream]
	r.Pos = copyPosition(r.Pos)
	return r, ok
}

// Tries is how many writes of the stream were tried, refused ones
// included.
func (t *Table[S]) Tries(stream eventstore.StreamID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writes[stream]
}

// Streams are the streams written, in no order.
func (t *Table[S]) Streams() []eventstore.StreamID {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []eventstore.StreamID
	for s := range t.rows {
		out = append(out, s)
	}
	return out
}

// SetFail has fail, when not nil, decide an error for each write instead
// of the table.
func (t *Table[S]) SetFail(fail func(eventstore.StreamID, projection.Position) error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fail = fail
}

// SetBefore has before, when not nil, run before each write: another
// writer's moment.
func (t *Table[S]) SetBefore(before func(eventstore.StreamID)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.before = before
}

func copyPosition(p projection.Position) projection.Position {
	if p.Quarantine != nil {
		q := *p.Quarantine
		p.Quarantine = &q
	}
	return p
}
