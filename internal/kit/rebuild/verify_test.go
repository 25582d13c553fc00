package rebuild_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/rebuild"
)

// Compare tells a lag (the two views at different versions) from a
// difference (another quarantine, or other rows at the same version), and
// only compares rows at the same version.
func TestCompare(t *testing.T) {
	at := func(v int64) *projection.Quarantine { return &projection.Quarantine{Reason: "no text", At: v} }
	for _, tc := range []struct {
		name           string
		fv, lv         int64
		fq, lq         *projection.Quarantine
		rows           string // what the row comparison says
		want           string
		lag, comparing bool
	}{
		{name: "equal", fv: 4, lv: 4, comparing: true},
		{name: "rows differ", fv: 4, lv: 4, rows: "notes differ", want: "at version 4: notes differ", comparing: true},
		{name: "fresh ahead", fv: 5, lv: 4, want: "fresh at version 5, live at 4", lag: true},
		{name: "live ahead", fv: 2, lv: 4, want: "fresh at version 2, live at 4", lag: true},
		{name: "quarantined in one", fv: 2, lv: 2, fq: at(3), want: "quarantine fresh at 3 (no text), live none (at version 2)"},
		{name: "quarantined elsewhere", fv: 2, lv: 5, fq: at(3), lq: at(6), want: "quarantine fresh at 3 (no text), live at 6 (no text)"},
		{name: "quarantined alike", fv: 2, lv: 2, fq: at(3), lq: at(3), comparing: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compared := false
			got, lag, err := rebuild.Compare(tc.fv, tc.lv, tc.fq, tc.lq, func() string { compared = true; return tc.rows })
			if err != nil || got != tc.want || lag != tc.lag || compared != tc.comparing {
				t.Errorf("Compare = %q, lag %v, %v, rows compared %v; want %q, lag %v, rows compared %v",
					got, lag, err, compared, tc.want, tc.lag, tc.comparing)
			}
		})
	}
}

// Verify checks every stream once, in parallel, and sorts what it found
// into equal, lagging and different; an error of one check ends it.
func TestVerify(t *testing.T) {
	var streams []eventstore.StreamID
	for i := range 60 {
		streams = append(streams, notebooktest.Notebook(t, fmt.Sprintf("nb%02d", i)))
	}
	var checked atomic.Int64
	seen := make([]atomic.Int64, len(streams))
	check := func(_ context.Context, s eventstore.StreamID) (string, bool, error) {
		checked.Add(1)
		i := slices.Index(streams, s)
		seen[i].Add(1)
		switch i % 10 {
		case 3:
			return "fresh at version 2, live at 1", true, nil
		case 7:
			return "at version 1: notes differ", false, nil
		}
		return "", false, nil
	}
	for _, workers := range []int{0, 1, 8} {
		checked.Store(0)
		for i := range seen {
			seen[i].Store(0)
		}
		rep, err := rebuild.Verify(t.Context(), streams, workers, check)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Streams != 60 || rep.Equal != 48 || len(rep.Lagging) != 6 || len(rep.Differences) != 6 || rep.OK() {
			t.Errorf("%d workers: %+v; want 48 equal, 6 lagging, 6 different", workers, rep)
		}
		if !slices.IsSorted(rep.Lagging) || !slices.IsSorted(rep.Differences) ||
			rep.Differences[0] != "acme#notebook#nb07: at version 1: notes differ" {
			t.Errorf("%d workers: lagging %v, differences %v; want them sorted, each with its stream", workers, rep.Lagging, rep.Differences)
		}
		for i := range seen {
			if n := seen[i].Load(); n != 1 {
				t.Errorf("%d workers: %s checked %d times", workers, streams[i], n)
			}
		}
	}

	cause := errors.New("table unreachable")
	checked.Store(0)
	_, err := rebuild.Verify(t.Context(), streams, 4, func(ctx context.Context, s eventstore.StreamID) (string, bool, error) {
		if checked.Add(1) == 5 {
			return "", false, cause
		}
		return "", false, ctx.Err()
	})
	if !errors.Is(err, cause) {
		t.Errorf("verify with a failing check: %v, want %v", err, cause)
	}
	if n := checked.Load(); n == int64(len(streams)) {
		t.Errorf("a failed check did not stop the others: %d checks", n)
	}
	if rep, err := rebuild.Verify(t.Context(), nil, 4, check); err != nil || !rep.OK() || rep.Streams != 0 {
		t.Errorf("verify of no streams: %+v, %v", rep, err)
	}
}

// ReadTo returns a stream's events from 1 to a version, gapless, over
// reads of 1,000 events, and says when the stream ends before it.
func TestReadTo(t *testing.T) {
	eachBackend(t, func(t *testing.T, b eventstore.Backend, _ *rebuild.Meter) {
		w := newWorld(b)
		s := notebooktest.Notebook(t, "long")
		for range 25 {
			w.write(t, s, nil, w.notes(s, 99)...)
		}
		for _, to := range []int64{0, 1, 99, 100, 1000, 1001, 2475} {
			evs, err := rebuild.ReadTo(t.Context(), w.store, s, to)
			if err != nil {
				t.Fatalf("read to %d: %v", to, err)
			}
			if len(evs) != int(to) {
				t.Fatalf("read to %d: %d events", to, len(evs))
			}
			for i, e := range evs {
				if e.Version != int64(i+1) || e.Stream != s {
					t.Fatalf("read to %d: event %d is %s %d", to, i, e.Stream, e.Version)
				}
			}
		}
		if _, err := rebuild.ReadTo(t.Context(), w.store, s, 2476); err == nil || !strings.Contains(err.Error(), "ends before version 2476") {
			t.Errorf("read beyond the head: %v, want an error saying where the stream ends", err)
		}
		if _, err := rebuild.ReadTo(t.Context(), w.store, notebooktest.Notebook(t, "missing"), 3); !errors.Is(err, eventstore.ErrNotFound) {
			t.Errorf("read of a missing stream: %v, want ErrNotFound", err)
		}
	})
}
