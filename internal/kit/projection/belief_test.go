package projection_test

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/testlog"
)

// A projector reads a view's row only when it cannot believe it: the row
// it wrote last, or none for a stream's first record. Every write is
// conditional on the believed position, so a wrong belief costs a refused
// write and a read, never a wrong row, and a quarantine waits for a read.
func TestAProjectorReadsOnlyWhatItCannotBelieve(t *testing.T) {
	f := newFixture(t)
	// restart is a new instance of the projector over the same tables: it
	// believes nothing it did not write.
	restart := func() *projection.Projection[[]string] {
		return projection.New("notes", notebooktest.Category, projection.Model[[]string](f.notes), f.reader, projection.NewDeadLetters(f.box), slog.New(slog.NewJSONHandler(&testlog.Buffer{}, nil)))
	}
	a := newNotebook(t, notebooktest.Category, "a")
	for _, words := range []string{"n1", "n2", "n3", "n4", "n5 n6", "n7", "bad"} {
		a.write(t, f.events, words)
	}
	steps := []struct {
		name string
		view *projection.Projection[[]string]
		// commits are a's commits applied, by their 1-based index.
		commits      []int
		loads, write int
		want         string
	}{
		{"a stream's first records: no row to read", f.notesView, []int{1, 2}, 0, 2, "[n1 n2] v2"},
		{"what it wrote itself: believed", f.notesView, []int{3}, 0, 1, "[n1 n2 n3] v3"},
		{"a new instance reads once", restart(), []int{4}, 1, 1, "[n1 n2 n3 n4] v4"},
		{"a new instance believes a first record, and the refused write sends it to a read", restart(), []int{1}, 1, 1, "[n1 n2 n3 n4] v4"},
		{"a row another instance moved: the write is refused, then read", f.notesView, []int{5}, 1, 2, "[n1 n2 n3 n4 n5 n6] v6"},
		{"a duplicate of what it believes costs nothing", f.notesView, []int{4, 5}, 0, 0, "[n1 n2 n3 n4 n5 n6] v6"},
		{"poison is read before it quarantines", f.notesView, []int{6, 7}, 1, 2, "[n1 n2 n3 n4 n5 n6 n7] v7 q8"},
		{"a quarantined stream is never believed", f.notesView, []int{7}, 1, 0, "[n1 n2 n3 n4 n5 n6 n7] v7 q8"},
	}
	// At step 5 the fixture's projector believes v3, which it wrote; a
	// new instance has written v4 since.
	for i, st := range steps {
		loads, writes := f.notes.Loads(a.Stream), f.notes.Tries(a.Stream)
		for _, n := range st.commits {
			if err := st.view.Apply(t.Context(), a.Commits[n-1].Events); err != nil {
				t.Fatalf("step %d (%s): %v", i+1, st.name, err)
			}
		}
		r, _ := f.notes.Get(a.Stream)
		got := fmt.Sprintf("%v v%d", r.State, r.Pos.Version)
		if r.Pos.Quarantine != nil {
			got += fmt.Sprintf(" q%d", r.Pos.Quarantine.At)
		}
		if got != st.want || f.notes.Loads(a.Stream)-loads != st.loads || f.notes.Tries(a.Stream)-writes != st.write {
			t.Errorf("step %d (%s): %s after %d reads and %d writes; want %s after %d and %d", i+1, st.name,
				got, f.notes.Loads(a.Stream)-loads, f.notes.Tries(a.Stream)-writes, st.want, st.loads, st.write)
		}
	}
	if got, want := f.letters(), []string{"notes a@8"}; !slices.Equal(got, want) {
		t.Errorf("dead letters %q, want %q: one per quarantine", got, want)
	}
}
