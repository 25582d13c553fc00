package projection_test

import (
	"log/slog"
	"slices"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/projection/projectiontest"
)

// The projector decodes each event it is handed once, for all its views;
// what it did not decode (a gap filled from the events table, a rebuild's
// Apply) each view decodes for itself. Either way the rows are the same.
func TestTheProjectorDecodesEachEventOnce(t *testing.T) {
	for _, shared := range []bool{true, false} {
		var byProjector, byViews int
		var decode projection.Decoder
		if shared {
			decode = func(e eventstore.Event) (any, error) { byProjector++; return notebooktest.Decode(e) }
		}
		text := func(e eventstore.Event) (string, error) { byViews++; return notebooktest.Text(e) }
		keep := func(notes []string, e projection.Event) ([]string, error) {
			if e.Type != notebooktest.NoteWritten {
				return notes, nil
			}
			s, err := projection.Decoded(e, text)
			if err != nil {
				return notes, err
			}
			return append(slices.Clip(notes), s), nil
		}
		events := projectiontest.NewEvents()
		dead := projection.NewDeadLetters(&projection.LetterBox{})
		quiet := slog.New(slog.DiscardHandler)
		var tables []*notebooktest.Table[[]string]
		var views []*projection.Projection[[]string]
		for _, name := range []string{"first", "second"} {
			table := notebooktest.NewTable(keep)
			tables = append(tables, table)
			views = append(views, projection.New(name, notebooktest.Category, projection.Model[[]string](table), events, dead, quiet))
		}
		h := projection.NewHandler(decode, dead, quiet, views[0], views[1])
		a := newNotebook(t, notebooktest.Category, "a")
		c1 := a.write(t, events, "n1 n2 rename")
		a.write(t, events, "n3") // never delivered: the views fill the gap
		c3 := a.write(t, events, "n4 n5")

		if failed := projectiontest.Failures(t, h, record(t, 1, c1), record(t, 2, c3)); len(failed) != 0 {
			t.Fatalf("failures %v", failed)
		}
		delivered, filled := 5, 1
		want := [2]int{0, 2 * (4 + filled)} // each view decodes the four notes and the filled one
		if shared {
			want = [2]int{delivered, 2 * filled}
		}
		if got := [2]int{byProjector, byViews}; got != want {
			t.Errorf("shared %v: %d decodings by the projector and %d by the views, want %d and %d", shared, got[0], got[1], want[0], want[1])
		}

		// A rebuild applies events no projector decoded.
		c4 := a.write(t, events, "n6")
		for _, v := range views {
			if err := v.Apply(t.Context(), c4.Events); err != nil {
				t.Fatal(err)
			}
		}
		if got := byViews - want[1]; got != 2 {
			t.Errorf("shared %v: the views decoded an applied note %d times, want once each", shared, got)
		}
		for _, table := range tables {
			if r, _ := table.Get(a.Stream); !slices.Equal(r.State, []string{"n1", "n2", "n3", "n4", "n5", "n6"}) || r.Pos.Version != 7 {
				t.Errorf("shared %v: row %v at %d, want the six notes at 7", shared, r.State, r.Pos.Version)
			}
		}
	}
}
