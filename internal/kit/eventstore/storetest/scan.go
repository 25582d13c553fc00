package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
)

// The backend's scan of the whole table: in segments that partition it, in
// pages of 1 MB at most, with a filter applied after the read.

// recorder keeps the key of every item written, so that a test knows what
// the table holds without knowing how the store lays items out.
type recorder struct {
	eventstore.Backend
	mu   sync.Mutex
	keys map[string]bool
}

func record(b eventstore.Backend) *recorder {
	return &recorder{Backend: b, keys: map[string]bool{}}
}

func (r *recorder) Write(ctx context.Context, writes []eventstore.Write, token string) error {
	if err := r.Backend.Write(ctx, writes, token); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range writes {
		r.keys[keyString(w.Item)] = true
	}
	return nil
}

func (r *recorder) written() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

func keyString(it eventstore.Item) string {
	pk, sk := itemKey(it)
	return pk + " " + sk.String()
}

// itemKey reads an item's keys, as the events table declares them.
func itemKey(it eventstore.Item) (string, eventstore.SortKey) {
	pk, okPK := it["pk"].(*types.AttributeValueMemberS)
	n, okSK := it["sk"].(*types.AttributeValueMemberN)
	if !okPK || !okSK {
		panic(fmt.Sprintf("item without a string pk and a numeric sk: %v", it))
	}
	sk, err := eventstore.ParseSortKey(n.Value)
	if err != nil {
		panic(err)
	}
	return pk.Value, sk
}

// seed writes a table of every kind of item: streams of commits of one to
// three events, snapshots every three events, guards, and a commit of two
// streams at once. It returns every commit appended, by commit id.
func seed(t *testing.T, store *eventstore.Store, streams int) map[string][]eventstore.Event {
	t.Helper()
	agg := eventstore.NewAggregate(store, tallyFold(1))
	commits := map[string][]eventstore.Event{}
	var heads []eventstore.Current[tally]
	for i := range streams {
		cur := fresh(newStream(t))
		for c := range 1 + i%5 {
			var guard *eventstore.Guard
			if c == 1 {
				guard = &eventstore.Guard{Tenant: cur.Head.Stream().Tenant, CommandID: fmt.Sprintf("seed-%s-%d", cur.Head.Stream().ID, c)}
			}
			next, evs, err := agg.Append(ctx(t), cur, events(int64(i), int64(c), 1)[:1+(i+c)%3], eventstore.Metadata{Actor: "seed"}, guard)
			if err != nil {
				t.Fatal(err)
			}
			commits[evs[0].CommitID] = evs
			cur = next
		}
		heads = append(heads, cur)
	}
	out, err := store.AppendAll(ctx(t), []eventstore.Pending{
		{Head: heads[0].Head, Events: events(7)},
		{Head: heads[1].Head, Events: events(8, 9)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range out {
		commits[c.Events[0].CommitID] = c.Events
	}
	return commits
}

// scanned is what scanning every segment of a table read.
type scanned struct {
	segments [][]eventstore.Item // the items each segment kept, in order
	read     int                 // items read, kept or not
	pages    int
}

// scanAll reads every page of every segment, checking each page against
// its limit, and returns the items by segment in the order read.
func scanAll(t *testing.T, b eventstore.Backend, segments, limit int32, filter []eventstore.Match) scanned {
	t.Helper()
	var out scanned
	for seg := range max(segments, 1) {
		q := eventstore.Scan{Segment: seg, Segments: segments, Limit: limit, Filter: filter, Consistent: true}
		var items []eventstore.Item
		for {
			if out.pages++; out.pages > 10_000 {
				t.Fatal("scan does not end")
			}
			p, err := b.Scan(ctx(t), q)
			if err != nil {
				t.Fatalf("scan segment %d of %d: %v", seg, segments, err)
			}
			if len(p.Items) > p.Scanned || limit > 0 && p.Scanned > int(limit) {
				t.Fatalf("a page of segment %d kept %d items of %d read, limit %d", seg, len(p.Items), p.Scanned, limit)
			}
			items = append(items, p.Items...)
			out.read += p.Scanned
			if p.Next == nil {
				break
			}
			q.Start = p.Next
		}
		out.segments = append(out.segments, items)
	}
	return out
}

// assertPartitioned checks that every partition lies in one segment, its
// items together and in sort key order, and returns every item's key.
func assertPartitioned(t *testing.T, s scanned) map[string]int {
	t.Helper()
	seen := map[string]int{}
	segmentOf := map[string]int{}
	for seg, items := range s.segments {
		var prevPK string
		var prevSK eventstore.SortKey
		done := map[string]bool{}
		for i, it := range items {
			seen[keyString(it)]++
			pk, sk := itemKey(it)
			if other, ok := segmentOf[pk]; ok && other != seg {
				t.Fatalf("partition %s is in segments %d and %d", pk, other, seg)
			}
			segmentOf[pk] = seg
			if i > 0 && pk == prevPK && !prevSK.Less(sk) {
				t.Fatalf("segment %d reads %s at %s after %s", seg, pk, sk, prevSK)
			}
			if i > 0 && pk != prevPK {
				done[prevPK] = true
				if done[pk] {
					t.Fatalf("segment %d reads partition %s in two runs", seg, pk)
				}
			}
			prevPK, prevSK = pk, sk
		}
	}
	return seen
}

func testScanSegments(t *testing.T, nb NewBackend) {
	rec := record(nb(t))
	store := newStore(t, rec, eventstore.WithClock(newClock(time.Second).Now), eventstore.WithSnapshotEvery(3), quiet)
	seed(t, store, 12)
	total := rec.written()
	for _, tc := range []struct{ segments, limit int32 }{{0, 0}, {1, 0}, {3, 4}, {8, 1}, {5, 7}} {
		s := scanAll(t, rec, tc.segments, tc.limit, nil)
		seen := assertPartitioned(t, s)
		if len(seen) != total || s.read != total {
			t.Errorf("%d segments, limit %d: %d distinct items of %d read (%d counted), want all %d", tc.segments, tc.limit, len(seen), s.read, s.read, total)
		}
		for k, n := range seen {
			if n != 1 || !rec.keys[k] {
				t.Errorf("%d segments, limit %d: item %s read %d times (written: %v)", tc.segments, tc.limit, k, n, rec.keys[k])
			}
		}
		if tc.limit > 0 && s.pages < total/int(tc.limit) {
			t.Errorf("%d segments, limit %d: %d pages for %d items", tc.segments, tc.limit, s.pages, total)
		}
	}
	for _, bad := range []eventstore.Scan{{Segment: 3, Segments: 3}, {Segment: -1, Segments: 2}, {Segment: 1}} {
		if _, err := rec.Scan(ctx(t), bad); err == nil {
			t.Errorf("scan of segment %d of %d: no error", bad.Segment, bad.Segments)
		}
	}
}

func testScanFilter(t *testing.T, nb NewBackend) {
	b := nb(t)
	// Strings compare by their UTF-8 bytes: upper case before lower, a
	// prefix before what extends it, "é" after "z"; and recordedAt's text,
	// whose fraction sorts before the whole second.
	tags := []string{"", "B", "a", "ab", "b", "z", "é", "2026-03-01T09:00:00.5Z", "2026-03-01T09:00:00Z", "2026-03-01T09:00:01Z"}
	for i, tag := range tags {
		it := eventstore.Item{
			"pk":  &types.AttributeValueMemberS{Value: fmt.Sprintf("filter#%d", i)},
			"sk":  &types.AttributeValueMemberN{Value: "0"},
			"tag": &types.AttributeValueMemberS{Value: tag},
			"odd": &types.AttributeValueMemberS{Value: fmt.Sprint(i%2 == 1)},
		}
		if err := b.Write(ctx(t), []eventstore.Write{{Item: it}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	untagged := eventstore.Item{"pk": &types.AttributeValueMemberS{Value: "filter#untagged"}, "sk": &types.AttributeValueMemberN{Value: "0"}}
	if err := b.Write(ctx(t), []eventstore.Write{{Item: untagged}}, ""); err != nil {
		t.Fatal(err)
	}
	all := len(tags) + 1
	for _, tc := range []struct {
		filter []eventstore.Match
		want   func(tag string, odd bool) bool
	}{
		{[]eventstore.Match{{Name: "tag", Op: eventstore.MatchEqual, Value: "ab"}}, func(tag string, _ bool) bool { return tag == "ab" }},
		{[]eventstore.Match{{Name: "tag", Op: eventstore.MatchAtLeast, Value: "b"}}, func(tag string, _ bool) bool { return tag >= "b" }},
		{[]eventstore.Match{{Name: "tag", Op: eventstore.MatchAtLeast, Value: ""}}, func(string, bool) bool { return true }},
		{[]eventstore.Match{{Name: "tag", Op: eventstore.MatchAtLeast, Value: "2026-03-01T09:00:00Z"}}, func(tag string, _ bool) bool { return tag >= "2026-03-01T09:00:00Z" }},
		{[]eventstore.Match{
			{Name: "tag", Op: eventstore.MatchAtLeast, Value: "B"},
			{Name: "odd", Op: eventstore.MatchEqual, Value: "true"},
		}, func(tag string, odd bool) bool { return tag >= "B" && odd }},
		{[]eventstore.Match{{Name: "nothing", Op: eventstore.MatchAtLeast, Value: ""}}, func(string, bool) bool { return false }},
	} {
		for _, limit := range []int32{0, 3} {
			s := scanAll(t, b, 2, limit, tc.filter)
			if s.read != all {
				t.Errorf("filter %+v, limit %d: %d items read, want all %d: a filter applies after the read", tc.filter, limit, s.read, all)
			}
			var got, want []string
			for _, items := range s.segments {
				for _, it := range items {
					got = append(got, keyString(it))
				}
			}
			for i, tag := range tags {
				if tc.want(tag, i%2 == 1) {
					want = append(want, fmt.Sprintf("filter#%d 0", i))
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("filter %+v, limit %d: kept %v, want %v", tc.filter, limit, got, want)
			}
		}
	}
}

// bigCommits appends 16 commits of ~90 KB on as many streams, over 1.4 MB,
// and returns their ids.
func bigCommits(t *testing.T, store *eventstore.Store) []string {
	t.Helper()
	pad := strings.Repeat("p", 90_000)
	var ids []string
	for i := range 16 {
		c, err := store.Append(ctx(t), eventstore.NewStream(newStream(t)), []eventstore.NewEvent{
			{Type: "Added", SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":%q}`, i, pad))},
		}, eventstore.Metadata{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.Events[0].CommitID)
	}
	return ids
}

// A scan page stops at 1 MB of items read, filtered or not, and the next
// page goes on after it.
func testScanPages(t *testing.T, nb NewBackend) {
	b := nb(t)
	appended := bigCommits(t, newStore(t, b, eventstore.WithClock(newClock(time.Second).Now), quiet))
	for _, filter := range [][]eventstore.Match{nil, {{Name: "nothing", Op: eventstore.MatchEqual, Value: "x"}}} {
		q := eventstore.Scan{Filter: filter, Consistent: true}
		pages, read, kept := 0, 0, 0
		for {
			p, err := b.Scan(ctx(t), q)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			read += p.Scanned
			kept += len(p.Items)
			bytes := 0
			for _, it := range p.Items {
				bytes += eventstore.ItemSize(it)
			}
			if bytes > 1<<20 {
				t.Errorf("a page holds %d bytes, over 1 MB", bytes)
			}
			if p.Next == nil {
				break
			}
			q.Start = p.Next
		}
		if pages < 2 || read != len(appended) {
			t.Errorf("filter %v: %d pages read %d items, want 2 or more pages and all %d", filter, pages, read, len(appended))
		}
		if filter == nil && kept != len(appended) || filter != nil && kept != 0 {
			t.Errorf("filter %v kept %d of %d items", filter, kept, len(appended))
		}
	}
}
