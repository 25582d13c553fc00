package redrive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/redrive"
)

// The repairs are tested with a model that knows no application:
// notebooks, streams of notes, and shelves, streams of another category.
// Two views keep the notebooks: "notes" keeps every note's text and
// refuses a note without one (its poison); "count" counts the notes and
// reads no data. "labels" keeps the shelves.
const (
	tenant      = "acme"
	notebook    = "notebook"
	shelf       = "shelf"
	noteWritten = "NoteWritten"
)

func keepNotes(notes []string, e eventstore.Event) ([]string, error) {
	if e.Type != noteWritten {
		return notes, nil
	}
	var n struct{ Text string }
	if err := json.Unmarshal(e.Data, &n); err != nil || n.Text == "" {
		return notes, fmt.Errorf("note %d has no text", e.Version)
	}
	return append(slices.Clip(notes), n.Text), nil
}

func countNotes(n int, e eventstore.Event) (int, error) {
	if e.Type == noteWritten {
		n++
	}
	return n, nil
}

// table is a view table in memory: one row per stream holding the state
// and the position, written only if the stored position is the expected
// one, as a DynamoDB conditional put is.
type table[S any] struct {
	fold func(S, eventstore.Event) (S, error)

	mu   sync.Mutex
	rows map[eventstore.StreamID]row[S]
}

type row[S any] struct {
	state S
	pos   projection.Position
}

func newTable[S any](fold func(S, eventstore.Event) (S, error)) *table[S] {
	return &table[S]{fold: fold, rows: map[eventstore.StreamID]row[S]{}}
}

func (t *table[S]) Load(_ context.Context, stream eventstore.StreamID) (S, projection.Position, error) {
	r := t.get(stream)
	return r.state, r.pos, nil
}

func (t *table[S]) Fold(s S, e eventstore.Event) (S, error) { return t.fold(s, e) }

func (t *table[S]) Save(_ context.Context, stream eventstore.StreamID, s S, pos projection.Position, expected int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rows[stream].pos.Version != expected {
		return projection.ErrStale
	}
	t.rows[stream] = row[S]{state: s, pos: copyPosition(pos)}
	return nil
}

// get returns the stream's row; the position shares nothing with the
// table.
func (t *table[S]) get(stream eventstore.StreamID) row[S] {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rows[stream]
	r.pos = copyPosition(r.pos)
	return r
}

func copyPosition(p projection.Position) projection.Position {
	if p.Quarantine != nil {
		q := *p.Quarantine
		p.Quarantine = &q
	}
	return p
}

// tables are the three views' tables.
type tables struct {
	notes  *table[[]string]
	counts *table[int]
	labels *table[[]string]
}

func newTables() *tables {
	return &tables{notes: newTable(keepNotes), counts: newTable(countNotes), labels: newTable(keepNotes)}
}

// viewSet is the three views over their tables.
type viewSet struct {
	notes  *projection.Projection[[]string]
	count  *projection.Projection[int]
	labels *projection.Projection[[]string]
}

// views are the views over the tables, reading events from store and
// sending dead letters to dead.
func (t *tables) views(store projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) viewSet {
	return viewSet{
		notes:  projection.New("notes", notebook, projection.Model[[]string](t.notes), store, dead, log),
		count:  projection.New("count", notebook, projection.Model[int](t.counts), store, dead, log),
		labels: projection.New("labels", shelf, projection.Model[[]string](t.labels), store, dead, log),
	}
}

// lifters are the views as a redrive takes them.
func (v viewSet) lifters() []redrive.Lifter { return []redrive.Lifter{v.notes, v.count, v.labels} }

// projector is the views as the projector runs them.
func (v viewSet) projector(dead *projection.DeadLetters, log *slog.Logger) *projection.Handler {
	return projection.NewHandler(dead, log, v.notes, v.count, v.labels)
}

func streamID(t testing.TB, category, id string) eventstore.StreamID {
	t.Helper()
	s, err := eventstore.NewStreamID(tenant, category, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func note(text string) eventstore.NewEvent {
	data, _ := json.Marshal(map[string]string{"text": text})
	return eventstore.NewEvent{Type: noteWritten, SchemaVersion: 1, Data: data}
}

// writer appends to one stream at its head.
type writer struct {
	stream eventstore.StreamID
	head   eventstore.Head
}

func newWriter(s eventstore.StreamID) *writer {
	return &writer{stream: s, head: eventstore.NewStream(s)}
}

func (w *writer) write(t testing.TB, store *eventstore.Store, evs ...eventstore.NewEvent) eventstore.Committed {
	t.Helper()
	c, err := store.Append(context.Background(), w.head, evs, eventstore.Metadata{Actor: "ann"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.head = c.Head
	return c
}
