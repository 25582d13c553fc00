package redrive_test

import (
	"log/slog"

	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/redrive"
)

// tables are the tables of the three views the repairs are tested with,
// over notebooktest's model. Two keep the notebooks: "notes" keeps every
// note's text and refuses a note without one (its poison); "count" counts
// the notes and reads no data. "labels" keeps the shelves.
type tables struct {
	notes  *notebooktest.Table[[]string]
	counts *notebooktest.Table[int]
	labels *notebooktest.Table[[]string]
}

func newTables() *tables {
	return &tables{
		notes:  notebooktest.NewTable(notebooktest.KeepNotes),
		counts: notebooktest.NewTable(notebooktest.CountNotesView),
		labels: notebooktest.NewTable(notebooktest.KeepNotes),
	}
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
		notes:  projection.New("notes", notebooktest.Category, projection.Model[[]string](t.notes), store, dead, log),
		count:  projection.New("count", notebooktest.Category, projection.Model[int](t.counts), store, dead, log),
		labels: projection.New("labels", notebooktest.Shelf, projection.Model[[]string](t.labels), store, dead, log),
	}
}

// lifters are the views as a redrive takes them.
func (v viewSet) lifters() []redrive.Lifter { return []redrive.Lifter{v.notes, v.count, v.labels} }

// projector is the views as the projector runs them.
func (v viewSet) projector(dead *projection.DeadLetters, log *slog.Logger) *projection.Handler {
	return projection.NewHandler(notebooktest.Decode, dead, log, v.notes, v.count, v.labels)
}
