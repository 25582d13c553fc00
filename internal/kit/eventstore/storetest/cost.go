package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
)

// The contract's cost cases: what a load, a state at a version and a state
// as of a time read, counted in requests and in items, on every backend.

// counting counts the Queries sent to a backend and the items they return.
type counting struct {
	eventstore.Backend
	mu      sync.Mutex
	queries int
	items   int
}

func (c *counting) Query(ctx context.Context, q eventstore.Query) (eventstore.Page, error) {
	p, err := c.Backend.Query(ctx, q)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queries++
	c.items += len(p.Items)
	return p, err
}

// reset returns the counts since the last reset and starts again.
func (c *counting) reset() (queries, items int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	queries, items = c.queries, c.items
	c.queries, c.items = 0, 0
	return queries, items
}

// A commit the aggregate writes keeps the state after it: a load reads one
// item, a state at any version one Query of at most two.
func testKeptState(t *testing.T, nb NewBackend) {
	cb := &counting{Backend: nb(t)}
	f := setupOn(t, cb, eventstore.WithSnapshotEvery(4))
	stream := newStream(t)
	cur := fresh(stream)
	var all []eventstore.Event
	for c := range 15 {
		ns := make([]int64, 1+c%3)
		for i := range ns {
			ns[i] = int64(c*10 + i)
		}
		m := &eventstore.Meter{}
		var rec []eventstore.Event
		var err error
		cur, rec, err = f.agg.Append(eventstore.WithMeter(ctx(t), m), cur, events(ns...), eventstore.Metadata{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rec...)
		// The commit's write unit, and the snapshot's when it crossed a
		// multiple of K: keeping the state costs nothing more.
		want := 1.0
		if (cur.Head.Version()-int64(len(ns)))/4 != cur.Head.Version()/4 {
			want = 2
		}
		if u := m.Usage(); u.WriteUnits != want {
			t.Errorf("append at %d cost %v write units, want %v", cur.Head.Version(), u.WriteUnits, want)
		}
	}
	head := int64(len(all))
	cb.reset()
	m := &eventstore.Meter{}
	loaded, err := f.agg.Load(eventstore.WithMeter(ctx(t), m), stream)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.State, fold(1, all)) || loaded.Head.Version() != head {
		t.Fatalf("loaded %+v at %d, want the fold of %d events", loaded.State, loaded.Head.Version(), head)
	}
	if q, items := cb.reset(); q != 1 || items != 1 || m.Usage().ReadUnits != 1 {
		t.Errorf("a load read %d items in %d Queries (%v read units), want the head alone", items, q, m.Usage().ReadUnits)
	}
	for v := int64(1); v <= head; v++ {
		past, err := f.agg.At(ctx(t), stream, v)
		if err != nil {
			t.Fatalf("state at %d: %v", v, err)
		}
		if want := fold(1, all[:v]); past.Version != v || !reflect.DeepEqual(past.State, want) {
			t.Fatalf("state at %d = %+v (version %d), want %+v", v, past.State, past.Version, want)
		}
		if q, items := cb.reset(); q != 1 || items > 2 {
			t.Errorf("state at %d read %d items in %d Queries, want at most 2 in one", v, items, q)
		}
	}
	if _, err := f.agg.At(ctx(t), stream, head+1); !errors.Is(err, eventstore.ErrVersionNotFound) {
		t.Errorf("state beyond the head: %v, want ErrVersionNotFound", err)
	}
	if q, _ := cb.reset(); q != 1 {
		t.Errorf("a state beyond the head took %d Queries, want one", q)
	}
	// The head from a load of a kept state is a real head.
	if _, _, err := f.agg.Append(ctx(t), loaded, events(1), eventstore.Metadata{}, nil); err != nil {
		t.Errorf("append after a load of a kept state: %v", err)
	}
}

// padded is a state too large to keep with a commit for free.
type padded struct {
	tally
	Pad string `json:"pad"`
}

// A state that would cost a commit another write unit is not kept: the
// commit costs what it did, and a load folds from the latest snapshot.
func testLargeState(t *testing.T, nb NewBackend) {
	for _, hinted := range []bool{false, true} {
		t.Run(fmt.Sprintf("LargeStates=%v", hinted), func(t *testing.T) { testLargeStateCost(t, nb, hinted) })
	}
}

func testLargeStateCost(t *testing.T, nb NewBackend, hinted bool) {
	cb := &counting{Backend: nb(t)}
	const k = 4
	store := newStore(t, cb, eventstore.WithSnapshotEvery(k), quiet)
	tf := tallyFold(1)
	agg := eventstore.NewAggregate(store, eventstore.Fold[padded]{
		Name: "padded", LogicVersion: 1, StateSchema: 1, LargeStates: hinted,
		Initial: func() padded { return padded{Pad: strings.Repeat("p", 1500)} },
		Evolve: func(s padded, e eventstore.Event) (padded, error) {
			var err error
			s.tally, err = tf.Evolve(s.tally, e)
			return s, err
		},
	})
	stream := newStream(t)
	cur := eventstore.Current[padded]{State: padded{Pad: strings.Repeat("p", 1500)}, Head: eventstore.NewStream(stream)}
	var all []eventstore.Event
	for i := range 10 {
		m := &eventstore.Meter{}
		var rec []eventstore.Event
		var err error
		if cur, rec, err = agg.Append(eventstore.WithMeter(ctx(t), m), cur, events(int64(i)), eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, rec...)
		if u := m.Usage(); u.Requests["PutItem"] == 1 && u.WriteUnits != 1 {
			t.Errorf("append at %d cost %v write units, want 1: the state went with the commit", cur.Head.Version(), u.WriteUnits)
		}
	}
	cb.reset()
	loaded, err := agg.Load(ctx(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.State.tally, fold(1, all)) || loaded.Head.Version() != 10 {
		t.Fatalf("loaded %+v at %d, want the fold of 10 events", loaded.State.tally, loaded.Head.Version())
	}
	// Hinted: the K+2 newest commits (10 down to 5), then the snapshot at
	// 8. Not: the head, the snapshot at 8, the commits 9 and 10.
	wantQ, wantItems := 3, 1+1+2
	if hinted {
		wantQ, wantItems = 2, k+2+1
	}
	if q, items := cb.reset(); q != wantQ || items != wantItems {
		t.Errorf("a load read %d items in %d Queries, want %d in %d", items, q, wantItems, wantQ)
	}
	for v := int64(1); v <= 10; v++ {
		past, err := agg.At(ctx(t), stream, v)
		if err != nil || !reflect.DeepEqual(past.State.tally, fold(1, all[:v])) {
			t.Fatalf("state at %d: %+v, %v", v, past.State.tally, err)
		}
		// Without the hint: two items, the latest snapshot by v, and the
		// commits after it that those did not reach (at most K). With it:
		// K+2 items, which reach back to the snapshot, and the snapshot.
		// Either way a single Query when the first one reaches back to
		// the first commit.
		snap := v / k * k
		var wantQ, maxItems int
		switch first := max(1, v-1); {
		case !hinted && first == 1:
			wantQ, maxItems = 1, 2
		case !hinted && first <= snap+1:
			wantQ, maxItems = 2, 2+1
		case !hinted:
			wantQ, maxItems = 3, 2+1+k
		case v <= k+2:
			wantQ, maxItems = 1, int(v)
		default:
			wantQ, maxItems = 2, k+2+1
		}
		if q, items := cb.reset(); q != wantQ || items > maxItems {
			t.Errorf("state at %d read %d items in %d Queries, want at most %d in %d", v, items, q, maxItems, wantQ)
		}
	}
}

// AsOf costs two Queries at any time: the latest snapshot recorded by then
// and at most K commits after it, up to the next multiple of K.
func testAsOfCost(t *testing.T, nb NewBackend) {
	const k = 4
	cb := &counting{Backend: nb(t)}
	f := setupOn(t, cb, eventstore.WithSnapshotEvery(k))
	stream := newStream(t)
	all := appendCommits(t, f, stream, 30)
	check := func(at time.Time) {
		t.Helper()
		cb.reset()
		past, err := f.agg.AsOf(ctx(t), stream, at)
		q, items := cb.reset()
		if q != 2 || items > 1+k {
			t.Errorf("state as of %v read %d items in %d Queries, want at most %d in 2", at, items, q, 1+k)
		}
		n := 0
		for n < len(all) && !all[n].RecordedAt.After(at) {
			n++
		}
		if n == 0 {
			if !errors.Is(err, eventstore.ErrVersionNotFound) {
				t.Errorf("state as of %v, before the first event: %v, want ErrVersionNotFound", at, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("state as of %v: %v", at, err)
		}
		if want := fold(1, all[:n]); !reflect.DeepEqual(past.State, want) || past.Version != int64(n) {
			t.Fatalf("state as of %v = %+v at %d, want %+v at %d", at, past.State, past.Version, want, n)
		}
	}
	check(time.Time{})
	check(all[0].RecordedAt.Add(-time.Nanosecond))
	for _, e := range all {
		check(e.RecordedAt)
		check(e.RecordedAt.Add(500 * time.Millisecond))
	}
	check(all[len(all)-1].RecordedAt.Add(24 * time.Hour))

	cb.reset()
	if _, err := f.agg.AsOf(ctx(t), newStream(t), all[0].RecordedAt); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("state as of a time of a missing stream: %v, want ErrNotFound", err)
	}
	// A third looks for an archive marker: an archived stream's partition
	// holds nothing else.
	if q, _ := cb.reset(); q != 3 {
		t.Errorf("a missing stream took %d Queries, want 3", q)
	}
	// The snapshots are items of their own, not commits: the stream reads
	// back as it was written.
	assertGapless(t, readAll(t, f.store, stream, 1, 100), 1, int64(len(all)))
}
