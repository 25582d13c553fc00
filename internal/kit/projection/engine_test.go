package projection_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/projection/projectiontest"
)

// The ordering rules every view shares, given/when/then: given the events
// table holds the streams' commits and the projector has handled the given
// records, when the batch arrives, then each stream stands where want says
// in both views, the notes view wrote each stream as often as writes says,
// and the dead letters are exactly letters.
func TestEngineRules(t *testing.T) {
	cases := []struct {
		name string
		// streams are the commits of each notebook, in order; see
		// notebook.write for the words.
		streams map[string][]string
		// elsewhere is a notebook whose commits the events table does not
		// hold: its records come from another table.
		elsewhere string
		// refuse is a notebook whose rows the notes table refuses as
		// invalid, quarantines excepted.
		refuse string
		// given and when are records, "a2" being notebook a's 2nd commit.
		given, when []string
		want        map[string]string
		writes      map[string]int
		letters     []string
		// reason is in the reason of every quarantine in the notes view.
		reason string
	}{
		{
			name:    "the next versions are applied, one write per stream per batch",
			streams: map[string][]string{"a": {"n1", "n2", "n3 n4"}, "b": {"m1"}},
			when:    []string{"a1", "b1", "a2", "a3"},
			want:    map[string]string{"a": "notes [n1 n2 n3 n4] v4 | count 4 v4", "b": "notes [m1] v1 | count 1 v1"},
			writes:  map[string]int{"a": 1, "b": 1},
		},
		{
			name:    "the next version is applied onto the stored state",
			streams: map[string][]string{"a": {"n1", "n2"}},
			given:   []string{"a1"},
			when:    []string{"a2"},
			want:    map[string]string{"a": "notes [n1 n2] v2 | count 2 v2"},
			writes:  map[string]int{"a": 1},
		},
		{
			name:    "duplicates are skipped without a write",
			streams: map[string][]string{"a": {"n1", "n2"}},
			given:   []string{"a1", "a2"},
			when:    []string{"a2", "a1", "a2"},
			want:    map[string]string{"a": "notes [n1 n2] v2 | count 2 v2"},
			writes:  map[string]int{"a": 0},
		},
		{
			name:    "records seen again before a new one cost one write",
			streams: map[string][]string{"a": {"n1", "n2", "n3"}},
			given:   []string{"a1", "a2"},
			when:    []string{"a1", "a2", "a3"},
			want:    map[string]string{"a": "notes [n1 n2 n3] v3 | count 3 v3"},
			writes:  map[string]int{"a": 1},
		},
		{
			name:    "a gap is filled from the events table in the same write",
			streams: map[string][]string{"a": {"n1", "n2", "n3 n4", "n5"}},
			given:   []string{"a1"},
			when:    []string{"a4"},
			want:    map[string]string{"a": "notes [n1 n2 n3 n4 n5] v5 | count 5 v5"},
			writes:  map[string]int{"a": 1},
		},
		{
			name:    "a gap at the start of a stream is filled too",
			streams: map[string][]string{"a": {"n1", "n2 n3"}},
			when:    []string{"a2"},
			want:    map[string]string{"a": "notes [n1 n2 n3] v3 | count 3 v3"},
			writes:  map[string]int{"a": 1},
		},
		{
			name:    "event types a view does not use advance its position",
			streams: map[string][]string{"a": {"n1", "rename", "rename n2"}, "b": {"rename"}},
			when:    []string{"a1", "a2", "a3", "b1"},
			want:    map[string]string{"a": "notes [n1 n2] v4 | count 2 v4", "b": "notes [] v1 | count 0 v1"},
			writes:  map[string]int{"a": 1, "b": 1},
		},
		{
			name:    "poison quarantines its stream in that view only, after what came before it",
			streams: map[string][]string{"a": {"n1", "n2 bad", "n3"}, "b": {"m1", "m2"}},
			when:    []string{"a1", "a2", "b1", "a3", "b2"},
			want:    map[string]string{"a": "notes [n1 n2] v2 q3 | count 4 v4", "b": "notes [m1 m2] v2 | count 2 v2"},
			writes:  map[string]int{"a": 1, "b": 1},
			letters: []string{"notes a@3"},
			reason:  "note 3 has no text",
		},
		{
			name:    "a quarantined stream skips what follows",
			streams: map[string][]string{"a": {"n1", "bad", "n2"}},
			given:   []string{"a1", "a2"},
			when:    []string{"a3"},
			want:    map[string]string{"a": "notes [n1] v1 q2 | count 3 v3"},
			writes:  map[string]int{"a": 0},
			letters: []string{"notes a@2"},
			reason:  "note 2 has no text",
		},
		{
			name:    "poison inside a gap quarantines",
			streams: map[string][]string{"a": {"n1", "bad", "n2"}},
			given:   []string{"a1"},
			when:    []string{"a3"},
			want:    map[string]string{"a": "notes [n1] v1 q2 | count 3 v3"},
			writes:  map[string]int{"a": 1},
			letters: []string{"notes a@2"},
			reason:  "note 2 has no text",
		},
		{
			name:      "a gap the events table cannot fill quarantines",
			streams:   map[string][]string{"a": {"n1", "n2"}, "b": {"m1"}},
			elsewhere: "a",
			when:      []string{"a2", "b1"},
			want:      map[string]string{"a": "notes [] v0 q1 | count 0 v0 q1", "b": "notes [m1] v1 | count 1 v1"},
			writes:    map[string]int{"a": 1, "b": 1},
			letters:   []string{"notes a@1 without event", "count a@1 without event"},
			reason:    "the events table has no version 1",
		},
		{
			name:    "a write the store refuses as invalid is poison",
			streams: map[string][]string{"a": {"n1 n2"}, "b": {"m1"}},
			refuse:  "a",
			when:    []string{"a1", "b1"},
			want:    map[string]string{"a": "notes [] v0 q1 | count 2 v2", "b": "notes [m1] v1 | count 1 v1"},
			// The refused write, then the quarantine.
			writes:  map[string]int{"a": 2, "b": 1},
			letters: []string{"notes a@1"},
			reason:  "maximum allowed size",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			books := map[string]*notebook{}
			for _, id := range slices.Sorted(maps.Keys(tc.streams)) {
				store := f.events
				if id == tc.elsewhere {
					store = projectiontest.NewEvents()
				}
				books[id] = newNotebook(t, notebooktest.Category, id)
				for _, words := range tc.streams[id] {
					books[id].write(t, store, words)
				}
			}
			if tc.refuse != "" {
				f.notes.SetFail(func(s eventstore.StreamID, pos projection.Position) error {
					if s.ID == tc.refuse && pos.Quarantine == nil {
						return &smithy.GenericAPIError{Code: "ValidationException", Message: "Item size has exceeded the maximum allowed size"}
					}
					return nil
				})
			}
			records := func(refs []string) []events.KinesisEventRecord {
				var out []events.KinesisEventRecord
				for i, ref := range refs {
					n, err := strconv.Atoi(ref[1:])
					if err != nil {
						t.Fatalf("record %q: %v", ref, err)
					}
					out = append(out, record(t, i+1, books[ref[:1]].Commits[n-1]))
				}
				return out
			}
			if failed := f.handle(t, records(tc.given)...); len(failed) != 0 {
				t.Fatalf("given: failures %v", failed)
			}
			before := map[string]int{}
			for id, b := range books {
				before[id] = f.notes.Tries(b.Stream)
			}

			if failed := f.handle(t, records(tc.when)...); len(failed) != 0 {
				t.Fatalf("failures %v, want none: nothing here is worth a retry", failed)
			}

			for id, b := range books {
				if got := f.describe(b.Stream); got != tc.want[id] {
					t.Errorf("%s: %s\n                  want %s", id, got, tc.want[id])
				}
				if got := f.notes.Tries(b.Stream) - before[id]; got != tc.writes[id] {
					t.Errorf("%s: %d writes in the notes view, want %d", id, got, tc.writes[id])
				}
				n, _ := f.notes.Get(b.Stream)
				c, _ := f.counts.Get(b.Stream)
				checkRow(t, b, "notes", n.Pos, tc.reason)
				checkRow(t, b, "count", c.Pos, "")
			}
			if got := f.letters(); !slices.Equal(got, tc.letters) {
				t.Errorf("dead letters %q, want %q", got, tc.letters)
			}
			checkLetters(t, f, books)
		})
	}
}

// checkRow asserts what every position holds whatever the case: the
// recordedAt of the event at its version, and, when quarantined, a reason
// that says why (containing reason, when given).
func checkRow(t *testing.T, b *notebook, view string, pos projection.Position, reason string) {
	t.Helper()
	e, _ := b.Event(pos.Version)
	if want := e.RecordedAt; pos.Version == 0 && !pos.UpdatedAt.IsZero() || pos.Version > 0 && !pos.UpdatedAt.Equal(want) {
		t.Errorf("%s: the %s view's position %d was updated at %v, want %v, its event's recordedAt", b.Stream.ID, view, pos.Version, pos.UpdatedAt, want)
	}
	if q := pos.Quarantine; q != nil && (q.Reason == "" || !strings.Contains(q.Reason, reason)) {
		t.Errorf("%s: quarantined in the %s view for %q, want a reason with %q", b.Stream.ID, view, q.Reason, reason)
	}
}

// checkLetters asserts that each letter of a view carries the poison
// event as the events table holds it, or nothing when the table holds
// none, and gives the reason its quarantine does.
func checkLetters(t *testing.T, f *fixture, books map[string]*notebook) {
	t.Helper()
	tables := map[string]func(eventstore.StreamID) projection.Position{
		"notes": func(s eventstore.StreamID) projection.Position { r, _ := f.notes.Get(s); return r.Pos },
		"count": func(s eventstore.StreamID) projection.Position { r, _ := f.counts.Get(s); return r.Pos },
	}
	for _, l := range f.box.Letters() {
		s, err := eventstore.ParseStreamKey(l.Stream)
		if err != nil {
			t.Errorf("letter %+v names no stream: %v", l, err)
			continue
		}
		if l.Event != nil {
			evs, err := envelope.Decode(l.Event)
			want, held := books[s.ID].Event(l.Version)
			if err != nil || len(evs) != 1 || !held || evs[0].ID != want.ID || evs[0].Version != l.Version {
				t.Errorf("letter of %s@%d carries %s (%v), want the poison event's envelope", s.ID, l.Version, l.Event, err)
			}
		}
		if q := tables[l.View](s).Quarantine; q == nil || q.At != l.Version || q.Reason != l.Reason {
			t.Errorf("letter %s %s@%d for %q, but the view's quarantine is %+v", l.View, s.ID, l.Version, l.Reason, q)
		}
	}
}

// Another writer (a second projector instance) moving the position between
// the read and the write makes the write fail its condition; the commit is
// judged again from what the other writer stored, not written over it.
func TestConcurrentWriterIsReJudged(t *testing.T) {
	f := newFixture(t)
	a := newNotebook(t, notebooktest.Category, "a")
	a1, a2, a3 := a.write(t, f.events, "n1"), a.write(t, f.events, "n2"), a.write(t, f.events, "n3")
	if failed := f.handle(t, record(t, 1, a1)); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	other := projection.New("notes", notebooktest.Category, projection.Model[[]string](f.notes), f.reader,
		projection.NewDeadLetters(f.box), nil)
	raced := false
	f.notes.SetBefore(func(eventstore.StreamID) {
		if raced {
			return // the other writer's own write
		}
		raced = true
		// The other instance got further: versions 2 and 3.
		if err := other.Apply(t.Context(), append(a2.Events, a3.Events...)); err != nil {
			t.Errorf("the other writer: %v", err)
		}
	})

	if failed := f.handle(t, record(t, 2, a2)); len(failed) != 0 {
		t.Fatalf("failures %v, want the stale write judged again", failed)
	}
	if !raced {
		t.Fatal("the other writer never ran")
	}
	if got, want := f.describe(a.Stream), "notes [n1 n2 n3] v3 | count 2 v2"; got != want {
		t.Errorf("a: %s, want %s: version 2 was a duplicate once judged again", got, want)
	}
	if len(f.box.Letters()) != 0 {
		t.Errorf("dead letters %+v", f.box.Letters())
	}
}

// Streams of another category are not the views': they are neither
// applied, nor quarantined, nor lifted.
func TestOtherCategoriesAreIgnored(t *testing.T) {
	f := newFixture(t)
	x := newNotebook(t, "diary", "x")
	x1 := x.write(t, f.events, "n1")
	if failed := f.handle(t, record(t, 1, x1)); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	if err := f.notesView.Quarantine(t.Context(), x.Stream, "no reason"); err != nil {
		t.Fatal(err)
	}
	if got := f.describe(x.Stream); got != "notes none | count none" {
		t.Errorf("a diary stream in the notebook views: %s", got)
	}
	if f.notesView.Holds(x.Stream) {
		t.Error("the notes view holds a diary stream")
	}
	if _, err := f.notesView.Lift(t.Context(), x.Stream); err == nil || !strings.Contains(err.Error(), `"diary"`) {
		t.Errorf("lift of a diary stream: %v, want an error naming its category", err)
	}
}

// Lift is the redrive: once the cause is fixed it lifts the quarantine and
// brings the view to the events table's head, reading from the position on;
// lifting again changes nothing; a stream still poisoned stops again at
// the same event, with a new letter.
func TestLiftBringsAQuarantinedStreamBack(t *testing.T) {
	f := newFixture(t)
	a := newNotebook(t, notebooktest.Category, "a")
	a1, a2, a3 := a.write(t, f.events, "n1"), a.write(t, f.events, "n2"), a.write(t, f.events, "n3")
	// Version 2's record arrives mangled: a is quarantined at 2 in both
	// views, and version 3 is then skipped.
	mangled := record(t, 2, a2)
	mangled.Kinesis.Data = []byte(`{"specversion":`)
	if failed := f.handle(t, record(t, 1, a1), mangled, record(t, 3, a3)); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	if got, want := f.describe(a.Stream), "notes [n1] v1 q2 | count 1 v1 q2"; got != want {
		t.Fatalf("a: %s, want %s", got, want)
	}
	a.write(t, f.events, "n4 rename") // not delivered: the lift reads it

	for i := range 2 {
		writes := f.notes.Tries(a.Stream) + f.counts.Tries(a.Stream)
		for _, lift := range []func(context.Context, eventstore.StreamID) (projection.Position, error){f.notesView.Lift, f.countView.Lift} {
			pos, err := lift(t.Context(), a.Stream)
			if err != nil || pos.Version != 5 || pos.Quarantine != nil {
				t.Errorf("lift %d = %+v, %v; want version 5, no quarantine", i+1, pos, err)
			}
		}
		if got, want := f.describe(a.Stream), "notes [n1 n2 n3 n4] v5 | count 4 v5"; got != want {
			t.Errorf("after lift %d: %s, want %s", i+1, got, want)
		}
		if n := f.notes.Tries(a.Stream) + f.counts.Tries(a.Stream) - writes; i == 1 && n != 0 {
			t.Errorf("lifting a healed stream wrote %d times", n)
		}
	}

	b := newNotebook(t, notebooktest.Category, "b")
	b1, b2 := b.write(t, f.events, "m1"), b.write(t, f.events, "bad")
	f.handle(t, record(t, 4, b1), record(t, 5, b2))
	pos, err := f.notesView.Lift(t.Context(), b.Stream)
	if err != nil || pos.Version != 1 || pos.Quarantine == nil || pos.Quarantine.At != 2 || !strings.Contains(pos.Quarantine.Reason, "no text") {
		t.Errorf("lift of a still poisoned stream = %+v, %v; want quarantined again at 2", pos, err)
	}
	if got, want := f.letters(), []string{"record a", "notes b@2", "notes b@2"}; !slices.Equal(got, want) {
		t.Errorf("dead letters %q, want %q: the mangled record's, then b's poison once per quarantine", got, want)
	}
}
