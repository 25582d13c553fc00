package rebuild_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/rebuild"
	"annals/internal/localaws/awstest"
)

// checkRows asserts that the fresh table holds, for every notebook, the
// fold of its events, and nothing else.
func checkRows(t *testing.T, w *world, fresh *table) {
	t.Helper()
	notebooks := w.notebooks()
	for _, s := range notebooks {
		notes, pos := w.folded(t, s)
		got, _ := fresh.Get(s)
		if !slices.Equal(got.State, notes) || got.Pos.Version != pos.Version || !got.Pos.UpdatedAt.Equal(pos.UpdatedAt) {
			t.Errorf("%s: rebuilt %q at %d (%v), the fold gives %q at %d (%v)", s, got.State, got.Pos.Version, got.Pos.UpdatedAt, notes, pos.Version, pos.UpdatedAt)
		}
		if (got.Pos.Quarantine == nil) != (pos.Quarantine == nil) || pos.Quarantine != nil && got.Pos.Quarantine.At != pos.Quarantine.At {
			t.Errorf("%s: rebuilt quarantine %+v, the fold stops at %+v", s, got.Pos.Quarantine, pos.Quarantine)
		}
	}
	if n := len(fresh.Streams()); n != len(notebooks) {
		t.Errorf("the fresh table holds %d streams, there are %d notebooks", n, len(notebooks))
	}
}

func keys(streams []eventstore.StreamID) []string {
	var out []string
	for _, s := range streams {
		out = append(out, s.Key())
	}
	slices.Sort(out)
	return out
}

// A rebuild hands the view every notebook's commits, and nothing of the
// shelves: the fresh table equals the fold of the events and the live
// view, the poisoned notebook quarantined where the live view has it,
// including what was written between the first scan and its catch-up.
// A second pass finds the notebooks created meanwhile, a third nothing.
func TestRebuildEqualsTheFoldAndTheLiveView(t *testing.T) {
	eachBackend(t, func(t *testing.T, b eventstore.Backend, meter *rebuild.Meter) {
		w := newWorld(b)
		poisoned := w.workload(t, 18)
		items := itemCount(t, w.store)
		fresh := newTable()
		var added []eventstore.StreamID
		var during rebuild.Progress
		var r *rebuild.Rebuild
		r = rebuild.New(rebuild.Config{
			Events: w.store, View: newView(fresh, w.store), Category: notebooktest.Category, Segments: 3,
			AfterScan: func(ctx context.Context, pass int) error {
				if pass != 1 {
					return nil
				}
				during = r.Progress()
				// Written while the scan ran: notebooks move on, in
				// one commit and in two, and two new ones appear.
				nb00, nb01 := notebooktest.Notebook(t, "nb00"), notebooktest.Notebook(t, "nb01")
				w.write(t, nb00, nil, w.notes(nb00, 2)...)
				w.write(t, nb01, nil, w.notes(nb01, 1)...)
				w.write(t, nb01, nil, w.notes(nb01, 1)...)
				for i := range 2 {
					s := notebooktest.Notebook(t, fmt.Sprintf("new%d", i))
					added = append(added, s)
					w.write(t, s, nil, w.notes(s, 2)...)
				}
				return nil
			},
		})
		var before eventstore.Usage
		if meter != nil {
			before = meter.Usage()
		}
		res, err := r.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var after eventstore.Usage
		if meter != nil {
			after = meter.Usage()
		}
		if !res.Settled || res.Passes != 3 {
			t.Errorf("%d passes, settled %v; want 3 (scan, new streams, nothing new)", res.Passes, res.Settled)
		}
		if got, want := keys(res.StreamKeys), keys(w.notebooks()); !slices.Equal(got, want) {
			t.Errorf("the rebuild saw %v, the notebooks are %v", got, want)
		}
		if res.Streams != len(res.StreamKeys) {
			t.Errorf("%d streams, %d stream keys", res.Streams, len(res.StreamKeys))
		}
		if res.Scanned < 3*items {
			t.Errorf("three passes read %d items, the table held %d before them", res.Scanned, items)
		}
		if during.Phase != "scan" || during.Pass != 1 || during.Scanned != items || during.Estimate > items ||
			during.Streams != int64(len(w.notebooks())-len(added)) {
			t.Errorf("progress after the first scan %+v; want the scan of pass 1 over all %d items, an estimate at most that", during, items)
		}
		if p := r.Progress(); p.Phase != "catch-up" || p.Pass != 3 || p.Commits != int64(res.Commits) || p.Events != int64(res.Events) {
			t.Errorf("progress at the end %+v, result %+v", p, res)
		}
		checkRows(t, w, fresh)
		if r, _ := fresh.Get(poisoned); r.Pos.Quarantine == nil || r.Pos.Quarantine.At != 3 || r.Pos.Version != 2 {
			t.Errorf("the poisoned notebook in the fresh table: %+v, want quarantined at 3 after 2", r.Pos)
		}
		for _, s := range added {
			if r, _ := fresh.Get(s); r.Pos.Version != 2 {
				t.Errorf("%s, created during the rebuild, at %d; want 2", s, r.Pos.Version)
			}
		}

		// The fresh table against the live one, through the verify helpers.
		rep, err := rebuild.Verify(t.Context(), res.StreamKeys, 4, func(ctx context.Context, s eventstore.StreamID) (string, bool, error) {
			f, _ := fresh.Get(s)
			l, _ := w.live.Get(s)
			return rebuild.Compare(f.Pos.Version, l.Pos.Version, f.Pos.Quarantine, l.Pos.Quarantine, func() string {
				if !slices.Equal(f.State, l.State) {
					return fmt.Sprintf("notes %q, live %q", f.State, l.State)
				}
				return ""
			})
		})
		if err != nil || !rep.OK() || rep.Equal != len(res.StreamKeys) || len(rep.Lagging) != 0 {
			t.Errorf("verify: %+v, %v; want every stream equal", rep, err)
		}

		if meter == nil {
			return
		}
		// On DynamoDB: a segment of this table is one page, so a pass is
		// one Scan per segment; a stream costs one Query to catch up; the
		// estimate one DescribeTable.
		used := after.Requests
		for op, n := range before.Requests {
			used[op] -= n
		}
		want := map[string]int{"DescribeTable": 1, "Scan": 3 * 3, "Query": len(res.StreamKeys)}
		for op, n := range want {
			if used[op] != n {
				t.Errorf("%d %s requests, want %d (all: %v)", used[op], op, n, used)
			}
		}
	})
}

// A rebuild run again over the same table, from a time on, reads only the
// commits recorded since then (less the margin) and applies them after
// what the table holds; a stream that did not move is not seen.
func TestResumeSinceReadsOnlyRecentCommits(t *testing.T) {
	eachBackend(t, func(t *testing.T, b eventstore.Backend, _ *rebuild.Meter) {
		start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		now := start
		clock := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(time.Millisecond)
			return now
		}
		setClock := func(t time.Time) {
			mu.Lock()
			defer mu.Unlock()
			now = t
		}
		w := newWorld(b, eventstore.WithClock(clock))
		w.workload(t, 8)
		fresh := newTable()
		cfg := rebuild.Config{Events: w.store, View: newView(fresh, w.store), Category: notebooktest.Category, Segments: 2, Now: clock}
		first, err := rebuild.New(cfg).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}

		// An hour later, two notebooks move on and one is new.
		setClock(start.Add(time.Hour))
		moved := []eventstore.StreamID{notebooktest.Notebook(t, "nb03"), notebooktest.Notebook(t, "nb05"), notebooktest.Notebook(t, "late")}
		for _, s := range moved {
			w.write(t, s, nil, w.notes(s, 2)...)
		}
		cfg.Since, cfg.Margin = start.Add(time.Hour).Add(-time.Millisecond), time.Minute
		res, err := rebuild.New(cfg).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := keys(res.StreamKeys), keys(moved); !slices.Equal(got, want) {
			t.Errorf("the resume saw %v, want the streams that moved %v", got, want)
		}
		if res.Commits != len(moved) || res.Events != 2*len(moved) {
			t.Errorf("the resume handed %d commits, %d events; want %d and %d", res.Commits, res.Events, len(moved), 2*len(moved))
		}
		if first.Commits <= res.Commits || !res.Settled {
			t.Errorf("first run %d commits, resume %d (settled %v)", first.Commits, res.Commits, res.Settled)
		}
		checkRows(t, w, fresh)
	})
}

// When writes never pause, the passes end at MaxPasses and the result
// says the rebuild did not settle.
func TestWritesThatNeverPauseEndAtMaxPasses(t *testing.T) {
	w := newWorld(eventstore.NewMemoryBackend())
	w.workload(t, 4)
	fresh := newTable()
	res, err := rebuild.New(rebuild.Config{
		Events: w.store, View: newView(fresh, w.store), Category: notebooktest.Category, Segments: 2, MaxPasses: 3,
		AfterScan: func(ctx context.Context, pass int) error {
			s := notebooktest.Notebook(t, fmt.Sprintf("busy%d", pass))
			w.write(t, s, nil, w.notes(s, 1)...)
			return nil
		},
	}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Settled || res.Passes != 3 {
		t.Errorf("%d passes, settled %v; want 3, not settled", res.Passes, res.Settled)
	}
	// The notebook written after the last scan is not in it: its commit
	// came after CaughtUpTo.
	if r, _ := fresh.Get(notebooktest.Notebook(t, "busy3")); r.Pos.Version != 0 {
		t.Errorf("the notebook written after the last scan is at %d in the fresh table", r.Pos.Version)
	}
	if r, _ := fresh.Get(notebooktest.Notebook(t, "busy2")); r.Pos.Version != 1 {
		t.Errorf("the notebook written after the second scan is at %d in the fresh table, want 1", r.Pos.Version)
	}
}

// failing is an events table, or a view, that fails where it is told to.
type failing struct {
	*eventstore.Store
	count, scan, read error
}

func (f failing) ItemCount(ctx context.Context) (int64, error) {
	if f.count != nil {
		return 0, f.count
	}
	return f.Store.ItemCount(ctx)
}

func (f failing) ScanCommits(ctx context.Context, sc eventstore.CommitScan) (eventstore.CommitScanPage, error) {
	if f.scan != nil {
		return eventstore.CommitScanPage{}, f.scan
	}
	return f.Store.ScanCommits(ctx, sc)
}

func (f failing) ReadCommitsAfter(ctx context.Context, s eventstore.StreamID, after int64) (eventstore.CommitPage, error) {
	if f.read != nil {
		return eventstore.CommitPage{}, f.read
	}
	return f.Store.ReadCommitsAfter(ctx, s, after)
}

type refusing struct{ err error }

func (refusing) Name() string { return "refusing" }
func (v refusing) Apply(context.Context, []eventstore.Event) error {
	return v.err
}

// A failure of the events table or of the view ends the rebuild with an
// error that says where it stopped.
func TestFailuresEndTheRebuild(t *testing.T) {
	w := newWorld(eventstore.NewMemoryBackend())
	w.workload(t, 3)
	cause := errors.New("connection reset")
	view := newView(newTable(), w.store)
	for _, tc := range []struct {
		name   string
		events rebuild.Events
		view   rebuild.View
		says   string
	}{
		{"estimate", failing{Store: w.store, count: cause}, view, ""},
		{"scan", failing{Store: w.store, scan: cause}, view, "pass 1"},
		{"catch-up", failing{Store: w.store, read: cause}, view, "catch up acme#"},
		{"view", w.store, refusing{cause}, "to the refusing view"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rebuild.New(rebuild.Config{Events: tc.events, View: tc.view, Segments: 2}).Run(t.Context())
			if !errors.Is(err, cause) || !strings.Contains(fmt.Sprint(err), tc.says) {
				t.Errorf("rebuild: %v; want %v, saying %q", err, cause, tc.says)
			}
		})
	}
}

// The view is handed a stream's consecutive commits together, up to 1,000
// events at a time, never a stream of another category, and never an
// event twice.
func TestConsecutiveCommitsGoTogether(t *testing.T) {
	w := newWorld(eventstore.NewMemoryBackend())
	long := notebooktest.Notebook(t, "long")
	for range 25 {
		w.write(t, long, nil, w.notes(long, 99)...)
	}
	w.write(t, notebooktest.StreamID(t, notebooktest.Shelf, "s"), nil, notebooktest.Note("x"))
	rec := &recording{}
	res, err := rebuild.New(rebuild.Config{Events: w.store, View: rec, Category: notebooktest.Category, Segments: 4}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	next := int64(1)
	for _, run := range rec.runs {
		if run[0].Stream != long || len(run) > 1000 || run[0].Version != next {
			t.Fatalf("a run of %d events of %s from %d; want %s from %d, at most 1000", len(run), run[0].Stream, run[0].Version, long, next)
		}
		next = run[len(run)-1].Version + 1
	}
	if next != 25*99+1 || len(rec.runs) != 3 || res.Commits != 25 || res.Events != 25*99 {
		t.Errorf("%d runs up to %d, %d commits, %d events; want 3 runs of 10, 10 and 5 commits", len(rec.runs), next-1, res.Commits, res.Events)
	}
}

type recording struct {
	mu   sync.Mutex
	runs [][]eventstore.Event
}

func (*recording) Name() string { return "recording" }
func (r *recording) Apply(_ context.Context, evs []eventstore.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, slices.Clone(evs))
	return nil
}

var _ rebuild.View = (*projection.Projection[[]string])(nil)

// A rebuild after notebooks were archived gives the same view: their
// commits come from their archives, where the scan meets them.
func TestRebuildFindsArchivedStreams(t *testing.T) {
	eachBackend(t, func(t *testing.T, b eventstore.Backend, meter *rebuild.Meter) {
		var objects eventstore.ArchiveObjects = eventstore.NewMemoryObjects("archive")
		if meter != nil {
			objects = awstest.ArchiveBucket(t, "archive")
		}
		w := newWorld(b, eventstore.WithArchive(objects))
		poisoned := w.workload(t, 9)
		archived := []eventstore.StreamID{poisoned, notebooktest.Notebook(t, "nb03"), notebooktest.Notebook(t, "nb07")}
		for _, s := range archived {
			if _, err := w.store.Archive(t.Context(), s, objects); err != nil {
				t.Fatal(err)
			}
		}
		fresh := newTable()
		res, err := rebuild.New(rebuild.Config{Events: w.store, View: newView(fresh, w.store), Category: notebooktest.Category, Segments: 2}).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, w, fresh)
		for _, s := range archived {
			got, _ := fresh.Get(s)
			live, _ := w.live.Get(s)
			if !slices.Equal(got.State, live.State) || got.Pos.Version != live.Pos.Version || (got.Pos.Quarantine == nil) != (live.Pos.Quarantine == nil) {
				t.Errorf("archived %s rebuilt as %+v, live %+v", s, got, live)
			}
		}
		if res.Streams != len(w.notebooks()) {
			t.Errorf("the rebuild saw %d streams, there are %d notebooks", res.Streams, len(w.notebooks()))
		}
		// Without the archives, the rebuild stops rather than drop them.
		_, err = rebuild.New(rebuild.Config{Events: eventstore.New(b), View: newView(newTable(), w.store), Category: notebooktest.Category}).Run(t.Context())
		if !errors.Is(err, eventstore.ErrArchived) {
			t.Errorf("a rebuild that cannot read the archives: %v, want ErrArchived", err)
		}
	})
}
