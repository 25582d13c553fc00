package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
)

// The store's reads of whole commits, which the repairs (a republish, a
// rebuild) and the fan-out use: a scan of every stream's commits, a
// stream's commits holding a range or after a version, the decoding of a
// stream record's item, and the table's item count.

// sameEvents reports how got differs from what was appended, or "".
func sameEvents(got, want []eventstore.Event) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d events, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.ID != w.ID || g.Stream != w.Stream || g.Version != w.Version || g.Type != w.Type || g.SchemaVersion != w.SchemaVersion ||
			string(g.Data) != string(w.Data) || g.CommitID != w.CommitID || g.Metadata != w.Metadata ||
			!g.RecordedAt.Equal(w.RecordedAt) || !g.OccurredAt.Equal(w.OccurredAt) {
			return fmt.Sprintf("event %d is %+v, want %+v", i, g, w)
		}
	}
	return ""
}

// scanCommits scans every segment of the store's commits, the segments in
// parallel, and returns each segment's commits in the order read.
func scanCommits(t *testing.T, store *eventstore.Store, segments int, since time.Time) (bySegment [][][]eventstore.Event, read int) {
	t.Helper()
	bySegment = make([][][]eventstore.Event, max(segments, 1))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for seg := range max(segments, 1) {
		wg.Go(func() {
			sc := eventstore.CommitScan{Segment: seg, Segments: segments, Since: since}
			for pages := 0; ; pages++ {
				if pages > 10_000 {
					t.Error("scan does not end")
					return
				}
				p, err := store.ScanCommits(ctx(t), sc)
				if err != nil {
					t.Errorf("scan segment %d of %d: %v", seg, segments, err)
					return
				}
				mu.Lock()
				bySegment[seg] = append(bySegment[seg], p.Commits...)
				read += p.Scanned
				mu.Unlock()
				if p.Next == nil {
					return
				}
				sc.Cursor = p.Next
			}
		})
	}
	wg.Wait()
	return bySegment, read
}

// Segments scanned in parallel, while other streams are written, read
// every commit that was there before exactly once, whole, as appended, a
// stream's commits together and in version order; never a snapshot or a
// guard.
func testScanCommits(t *testing.T, nb NewBackend) {
	rec := record(nb(t))
	store := newStore(t, rec, eventstore.WithClock(newClock(time.Second).Now), eventstore.WithSnapshotEvery(3), quiet)
	before := seed(t, store, 15)
	total := rec.written()

	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for range 200 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := store.Append(context.Background(), eventstore.NewStream(newStream(t)), events(1), eventstore.Metadata{}, nil); err != nil {
				t.Errorf("append during the scan: %v", err)
				return
			}
		}
	})
	for _, segments := range []int{0, 4} {
		bySegment, read := scanCommits(t, store, segments, time.Time{})
		if read < total {
			t.Errorf("%d segments read %d items, the table held %d before", segments, read, total)
		}
		seen := map[string]int{}
		for seg, commits := range bySegment {
			last := map[eventstore.StreamID]int64{}
			done := map[eventstore.StreamID]bool{}
			var prev eventstore.StreamID
			for _, c := range commits {
				id, stream := c[0].CommitID, c[0].Stream
				if seen[id]++; seen[id] > 1 {
					t.Errorf("%d segments: commit %s of %s read twice", segments, id, stream)
				}
				if stream != prev && done[stream] {
					t.Errorf("%d segments: segment %d reads %s in two runs", segments, seg, stream)
				}
				done[prev], prev = true, stream
				if c[0].Version <= last[stream] {
					t.Errorf("%d segments: segment %d reads %s at %d after %d", segments, seg, stream, c[0].Version, last[stream])
				}
				last[stream] = c[len(c)-1].Version
				if want, ok := before[id]; ok {
					if diff := sameEvents(c, want); diff != "" {
						t.Errorf("%d segments: commit %s: %s", segments, id, diff)
					}
				}
			}
		}
		for id := range before {
			if seen[id] != 1 {
				t.Errorf("%d segments: commit %s of %s read %d times, want once", segments, id, before[id][0].Stream, seen[id])
			}
		}
	}
	close(stop)
	writer.Wait()
	if _, err := store.ScanCommits(ctx(t), eventstore.CommitScan{Segment: 2, Segments: 2}); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("scan of commits in segment 2 of 2: %v, want ErrInvalid", err)
	}
}

// Pages of a scan of commits stop at 1 MB, for one Scan request each, and
// together hold every commit once.
func testScanCommitsPages(t *testing.T, nb NewBackend) {
	store := newStore(t, nb(t), eventstore.WithClock(newClock(time.Second).Now), quiet)
	appended := bigCommits(t, store)
	var got []string
	sc := eventstore.CommitScan{}
	for pages := 1; ; pages++ {
		m := &eventstore.Meter{}
		page, err := store.ScanCommits(eventstore.WithMeter(ctx(t), m), sc)
		if err != nil {
			t.Fatal(err)
		}
		if u := m.Usage(); u.Total() != 1 || u.Requests["Scan"] != 1 {
			t.Errorf("a page of commits cost %v, want one Scan", u.Requests)
		}
		for _, c := range page.Commits {
			got = append(got, c[0].CommitID)
		}
		if page.Next == nil {
			if pages == 1 {
				t.Error("1.4 MB of commits on one page")
			}
			break
		}
		sc.Cursor = page.Next
	}
	slices.Sort(got)
	slices.Sort(appended)
	if !slices.Equal(got, appended) {
		t.Errorf("scanned %d commits, appended %d", len(got), len(appended))
	}
}

// A scan since a time keeps every commit recorded from it on, and none
// recorded in an earlier second: recordedAt is compared as stored text, to
// the second. Snapshots and guards, recorded then too, are not commits.
func testScanSince(t *testing.T, nb NewBackend) {
	// 730 ms apart: commits fall on every fraction of a second, and on
	// whole seconds too.
	store := newStore(t, nb(t), eventstore.WithClock(newClock(730*time.Millisecond).Now), eventstore.WithSnapshotEvery(2), quiet)
	commits := seed(t, store, 8)
	var times []time.Time
	for _, c := range commits {
		times = append(times, c[0].RecordedAt)
	}
	slices.SortFunc(times, time.Time.Compare)
	mid := times[len(times)/2]
	for _, since := range []time.Time{
		times[0], times[3], times[3].Add(time.Nanosecond), mid.Add(-time.Nanosecond), mid.Truncate(time.Second),
		mid.Truncate(time.Second).Add(-time.Nanosecond), times[len(times)-1], times[len(times)-1].Add(time.Hour),
	} {
		bySegment, _ := scanCommits(t, store, 2, since)
		kept := map[string]int{}
		for _, cs := range bySegment {
			for _, c := range cs {
				kept[c[0].CommitID]++
			}
		}
		for id, c := range commits {
			at := c[0].RecordedAt
			switch {
			case !at.Before(since) && kept[id] != 1:
				t.Errorf("since %v: commit recorded at %v kept %d times, want once", since.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano), kept[id])
			case at.Before(since.Truncate(time.Second)) && kept[id] > 0:
				t.Errorf("since %v: commit recorded at %v, an earlier second, kept", since.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
			}
		}
		if len(kept) > len(commits) {
			t.Errorf("since %v: %d commits kept of %d", since, len(kept), len(commits))
		}
	}
}

// CommitVersions is a list of commits as their versions, e.g. "[2 3] [4]".
func CommitVersions(commits [][]eventstore.Event) string {
	var parts []string
	for _, c := range commits {
		var vs []string
		for _, e := range c {
			vs = append(vs, fmt.Sprint(e.Version))
		}
		parts = append(parts, "["+strings.Join(vs, " ")+"]")
	}
	return strings.Join(parts, " ")
}

// ReadCommits takes whole commits, as stored: not upcast, since they are
// what the fan-out publishes.
func testReadCommits(t *testing.T, nb NewBackend) {
	upcast := eventstore.WithUpcaster(func(e eventstore.Event) (eventstore.Event, error) {
		e.Data = json.RawMessage(`{"n":0}`)
		return e, nil
	})
	f := setup(t, nb, eventstore.WithSnapshotEvery(2), upcast)
	stream := newStream(t)
	cur := fresh(stream)
	var all [][]eventstore.Event
	for _, size := range []int{1, 2, 1, 3, 1, 1} { // [1] [2 3] [4] [5 6 7] [8] [9]
		ns := make([]int64, size)
		for i := range ns {
			ns[i] = int64(len(all)*10 + i + 1)
		}
		var evs []eventstore.Event
		var err error
		if cur, evs, err = f.agg.Append(ctx(t), cur, events(ns...), eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, evs)
	}
	for _, tc := range []struct {
		from, to int64
		want     string
		queries  int
	}{
		{1, 0, "[1] [2 3] [4] [5 6 7] [8] [9]", 1},
		{1, 1, "[1]", 1},
		{3, 5, "[2 3] [4] [5 6 7]", 2},
		{2, 3, "[2 3]", 2},
		{6, 6, "[5 6 7]", 2},
		{7, 8, "[5 6 7] [8]", 2},
		{9, 0, "[9]", 2},
		{10, 0, "", 2},
	} {
		m := &eventstore.Meter{}
		got, err := f.store.ReadCommits(eventstore.WithMeter(ctx(t), m), stream, tc.from, tc.to)
		if err != nil {
			t.Fatalf("commits holding %d..%d: %v", tc.from, tc.to, err)
		}
		if s := CommitVersions(got); s != tc.want {
			t.Errorf("commits holding %d..%d: %s, want %s", tc.from, tc.to, s, tc.want)
		}
		if u := m.Usage(); u.Total() != tc.queries || u.Requests["Query"] != tc.queries {
			t.Errorf("commits holding %d..%d cost %v, want %d Query", tc.from, tc.to, u.Requests, tc.queries)
		}
		for _, c := range got {
			i := slices.IndexFunc(all, func(a []eventstore.Event) bool { return a[0].ID == c[0].ID })
			if i < 0 {
				t.Fatalf("commits holding %d..%d: a commit that was not appended: %+v", tc.from, tc.to, c)
			}
			if diff := sameEvents(c, all[i]); diff != "" {
				t.Errorf("commits holding %d..%d: %s", tc.from, tc.to, diff)
			}
		}
	}
	for _, r := range [][2]int64{{0, 0}, {3, 2}, {-1, 4}} {
		if _, err := f.store.ReadCommits(ctx(t), stream, r[0], r[1]); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("commits holding %d..%d: %v, want ErrInvalid", r[0], r[1], err)
		}
	}
	if got, err := f.store.ReadCommits(ctx(t), newStream(t), 1, 0); err != nil || len(got) != 0 {
		t.Errorf("commits of a missing stream: %d, %v; want none", len(got), err)
	}
	if p, err := f.store.Read(ctx(t), stream, 1, 1); err != nil || string(p.Events[0].Data) != `{"n":0}` {
		t.Errorf("Read does not upcast: %+v, %v", p.Events, err)
	}
}

// ReadCommitsAfter pages through a stream's commits from after a commit's
// end, one Query per page, over 1 MB as well.
func testReadCommitsAfter(t *testing.T, nb NewBackend) {
	f := setup(t, nb, eventstore.WithSnapshotEvery(3))
	stream := newStream(t)
	pad := strings.Repeat("q", 80_000)
	cur := fresh(stream)
	var all [][]eventstore.Event
	for c := range 14 { // commits of one or two ~80 KB events: over 1.6 MB
		evs := make([]eventstore.NewEvent, 1+c%2)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "Added", SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":%q}`, c, pad))}
		}
		var rec []eventstore.Event
		var err error
		if cur, rec, err = f.agg.Append(ctx(t), cur, evs, eventstore.Metadata{Actor: "a"}, nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, rec)
	}
	head := cur.Head.Version()
	for _, start := range []int{0, 1, 6, 13} {
		after := int64(0)
		if start > 0 {
			after = all[start-1][len(all[start-1])-1].Version
		}
		var got [][]eventstore.Event
		pages := 0
		for next := after; ; {
			if pages++; pages > 100 {
				t.Fatal("reads of commits do not end")
			}
			m := &eventstore.Meter{}
			p, err := f.store.ReadCommitsAfter(eventstore.WithMeter(ctx(t), m), stream, next)
			if err != nil {
				t.Fatalf("commits after %d: %v", next, err)
			}
			if u := m.Usage(); u.Total() != 1 || u.Requests["Query"] != 1 {
				t.Errorf("a page of commits after %d cost %v, want one Query", next, u.Requests)
			}
			got = append(got, p.Commits...)
			if p.Next == 0 {
				break
			}
			if p.Next <= next {
				t.Fatalf("the read went from after %d to after %d", next, p.Next)
			}
			next = p.Next
		}
		if CommitVersions(got) != CommitVersions(all[start:]) {
			t.Fatalf("commits after %d: %s, want %s", after, CommitVersions(got), CommitVersions(all[start:]))
		}
		for i, c := range got {
			if diff := sameEvents(c, all[start+i]); diff != "" {
				t.Errorf("commits after %d: %s", after, diff)
			}
		}
		if start == 0 && pages < 2 {
			t.Errorf("commits after %d: over 1 MB on one page", after)
		}
	}
	// A version inside a commit: the commit that holds it is not returned.
	inside := all[3][0].Version // [5 6]
	if p, err := f.store.ReadCommitsAfter(ctx(t), stream, inside); err != nil || len(p.Commits) == 0 || p.Commits[0][0].Version != inside+2 {
		t.Errorf("commits after %d, inside a commit: first %s, %v; want the next commit", inside, CommitVersions(p.Commits[:min(1, len(p.Commits))]), err)
	}
	for _, after := range []int64{head, head + 5} {
		m := &eventstore.Meter{}
		p, err := f.store.ReadCommitsAfter(eventstore.WithMeter(ctx(t), m), stream, after)
		if err != nil || len(p.Commits) != 0 || p.Next != 0 || m.Usage().Total() != 1 {
			t.Errorf("commits after %d (head %d): %d, next %d, %v, cost %v; want an empty last page for one Query", after, head, len(p.Commits), p.Next, err, m.Usage().Requests)
		}
	}
	if _, err := f.store.ReadCommitsAfter(ctx(t), stream, -1); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("commits after -1: %v, want ErrInvalid", err)
	}
}

// Undecodable returns a copy of a commit item that has lost its events, as
// a faulty writer could leave it: DecodeCommit refuses it as a commit that
// has no events, not as an item of another kind. Tests of what reads the
// table's items (the fan-out's stream records) take their poison from
// here rather than from the item layout.
func Undecodable(commit eventstore.Item) eventstore.Item {
	broken := maps.Clone(commit)
	delete(broken, "ev")
	return broken
}

// DecodeCommit reads the table's items as a DynamoDB stream record carries
// them: a commit into its events, anything else is ErrNotCommit. CommitAt
// names a commit from its key alone, broken or not, and refuses the keys
// of snapshots and guards.
func testDecodeCommit(t *testing.T, nb NewBackend) {
	b := nb(t)
	store := newStore(t, b, eventstore.WithClock(newClock(time.Second).Now), eventstore.WithSnapshotEvery(2), quiet)
	commits := seed(t, store, 4)
	decoded, other := 0, 0
	for _, items := range scanAll(t, b, 0, 0, nil).segments {
		for _, it := range items {
			evs, err := eventstore.DecodeCommit(it)
			switch {
			case errors.Is(err, eventstore.ErrNotCommit):
				other++
				if key, v, err := eventstore.CommitAt(eventstore.KeyOf(it)); err == nil {
					t.Errorf("item %s: CommitAt names commit %s at %d", keyString(it), key, v)
				}
			case err != nil:
				t.Errorf("item %s: %v", keyString(it), err)
			default:
				decoded++
				if diff := sameEvents(evs, commits[evs[0].CommitID]); diff != "" {
					t.Errorf("commit %s: %s", keyString(it), diff)
				}
				if _, err := eventstore.DecodeCommit(Undecodable(it)); err == nil || errors.Is(err, eventstore.ErrNotCommit) || !strings.Contains(err.Error(), "no events") {
					t.Errorf("a commit without events: %v, want an error other than ErrNotCommit saying so", err)
				}
				for _, key := range []eventstore.Item{eventstore.KeyOf(it), Undecodable(it)} {
					if s, v, err := eventstore.CommitAt(key); err != nil || s != evs[0].Stream.Key() || v != evs[0].Version {
						t.Errorf("CommitAt(%s) = %s, %d, %v; want %s at %d", keyString(it), s, v, err, evs[0].Stream, evs[0].Version)
					}
				}
			}
		}
	}
	if decoded != len(commits) || other == 0 {
		t.Errorf("%d commits decoded of %d, %d other items; want every commit, and snapshots and guards", decoded, len(commits), other)
	}
}

// The store's estimate of the table's items is the backend's, where the
// backend gives one, and never more than was written (DynamoDB's lags by
// up to six hours).
func testItemCount(t *testing.T, nb NewBackend) {
	b := nb(t)
	store := newStore(t, b, eventstore.WithClock(newClock(time.Second).Now), eventstore.WithSnapshotEvery(2), quiet)
	seed(t, store, 5)
	written := scanAll(t, b, 0, 0, nil).read
	n, err := store.ItemCount(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := b.(eventstore.ItemCounter); ok {
		own, err := c.ItemCount(ctx(t))
		if err != nil || n != own || n < 0 || n > int64(written) {
			t.Errorf("item count %d, the backend's %d (%v), %d items written", n, own, err, written)
		}
	}
	// A backend that gives no estimate: none, and no error.
	hidden := struct{ eventstore.Backend }{b}
	if n, err := newStore(t, hidden).ItemCount(ctx(t)); n != 0 || err != nil {
		t.Errorf("item count without an estimate: %d, %v", n, err)
	}
}
