package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
)

// NewObjects returns a fresh, empty bucket of archive objects for one test.
type NewObjects func(t *testing.T) eventstore.ArchiveObjects

// Depth says how far the archival cases go: every write and every
// version, or a representative set of them. Each crash point is a stream
// written, archived and read back, and each version probed a few reads:
// in memory that is nothing, on a remote backend it is the suite's time.
type Depth int

const (
	// Exhaustive fails every write and delete of the table and of the
	// bucket in turn, before it applies and after, and reads an archived
	// stream at every version and every commit's time.
	Exhaustive Depth = iota
	// Representative fails the first write, the marker's (before and
	// after), and each batch of writes after it applies (so before the
	// next, and after the last); it reads an archived stream at every
	// fifth version and the ones after them, across the first snapshot,
	// and at the last.
	Representative
)

// RunArchive runs the archival contract against backends and buckets. The
// backend must be an eventstore.BatchWriter.
func RunArchive(t *testing.T, newBackend NewBackend, newObjects NewObjects, depth Depth) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewBackend, NewObjects)
	}{
		{"ArchiveLeavesMarkerAndPlaceholdersAndRestoreBringsEverythingBack", testArchiveRoundTrip},
		{"ArchiveObjectIsCheckedLines", testArchiveFormat},
		{"ArchivedStreamRefusesEveryWrite", testArchivedRefuses},
		{"ReadsAnswerFromTheArchive", func(t *testing.T, nb NewBackend, no NewObjects) { testReadsFromArchive(t, nb, no, depth) }},
		{"RestoredStreamReadsAsCheaplyAsBefore", testRestoredCost},
		{"ScanCommitsReadsArchivesOrListsThem", testScanArchives},
		{"ReadCommitsOfAnArchivedStream", testReadCommitsArchived},
		{"ArchiveThatStopsAnywhereFinishes", func(t *testing.T, nb NewBackend, no NewObjects) { testArchiveCrash(t, nb, no, depth) }},
		{"RestoreThatStopsAnywhereFinishes", func(t *testing.T, nb NewBackend, no NewObjects) { testRestoreCrash(t, nb, no, depth) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend, newObjects)
		})
	}
}

// archivableCommits is how many commits archivable appends: more than one
// batch of writes.
const archivableCommits = 27

// archivable builds a stream of 27 commits of one to three events, more
// items than one batch, with snapshots (K = 10).
func archivable(t *testing.T, f fixture) eventstore.StreamID {
	t.Helper()
	return archivableHeads(t, f)[0].Head.Stream()
}

// archivableHeads builds the stream archivable builds and returns every
// state it was at, from the new stream's to the last.
func archivableHeads(t *testing.T, f fixture) []eventstore.Current[tally] {
	t.Helper()
	cur := fresh(newStream(t))
	heads := []eventstore.Current[tally]{cur}
	for c := range int64(archivableCommits) {
		ns := make([]int64, 1+c%3)
		for i := range ns {
			ns[i] = c*10 + int64(i)
		}
		cur = mustAppend(t, f, cur, ns...)
		heads = append(heads, cur)
	}
	return heads
}

// storedImage is what a stream's items are: its whole commits, its events
// page by page, and the items of its partitions (the snapshots' among
// them), all as JSON, to compare byte for byte.
func storedImage(t *testing.T, f fixture, stream eventstore.StreamID) string {
	t.Helper()
	commits, err := f.store.ReadCommits(ctx(t), stream, 1, 0)
	if err != nil {
		t.Fatalf("read commits of %s: %v", stream, err)
	}
	a, err := json.Marshal(commits)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(readAll(t, f.store, stream, 1, 7))
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	for _, pk := range []string{stream.Key(), "snapshot#" + stream.Key()} {
		for _, it := range partition(t, f.backend, pk) {
			items = append(items, itemString(t, it))
		}
	}
	return string(a) + "\n" + string(b) + "\n" + strings.Join(items, "\n")
}

// partition reads every item of a partition, in key order.
func partition(t *testing.T, b eventstore.Backend, pk string) []eventstore.Item {
	t.Helper()
	var out []eventstore.Item
	q := eventstore.Query{PK: pk, Consistent: true}
	for {
		p, err := b.Query(ctx(t), q)
		if err != nil {
			t.Fatalf("read %s: %v", pk, err)
		}
		out = append(out, p.Items...)
		if p.Next == nil {
			return out
		}
		q.Start = p.Next
	}
}

// itemString is an item as DynamoDB's JSON, attributes in order.
func itemString(t *testing.T, it eventstore.Item) string {
	t.Helper()
	b, err := json.Marshal(itemJSON(it))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readsImage is what every read of a stream answers, as JSON: its events
// page by page, its state at each version and as of each commit's time
// (and half a second later, and before the first), and its load; at the
// versions depth probes.
func readsImage(t *testing.T, f fixture, stream eventstore.StreamID, depth Depth) string {
	if depth == Representative {
		return readsImageAt(t, f, stream, 7, func(v int64) bool { return v%5 <= 1 || v == 54 })
	}
	return readsImageAt(t, f, stream, 7, func(int64) bool { return true })
}

// sampledReadsImage is readsImage at a few versions and times only: the
// first, and the last. The crash cases take it twice per crash point;
// ReadsAnswerFromTheArchive reads the rest.
func sampledReadsImage(t *testing.T, f fixture, stream eventstore.StreamID) string {
	return readsImageAt(t, f, stream, 100, func(v int64) bool { return v == 1 || v == 54 })
}

// readsImageAt is readsImage in pages of page events, at the versions
// (and their times) probe selects.
func readsImageAt(t *testing.T, f fixture, stream eventstore.StreamID, page int, probe func(version int64) bool) string {
	t.Helper()
	var out bytes.Buffer
	add := func(what string, v any, err error) {
		if err != nil {
			v = err.Error()
			if eventstore.IsNotFound(err) {
				v = "not found"
			}
		}
		b, jerr := json.Marshal(v)
		if jerr != nil {
			t.Fatal(jerr)
		}
		fmt.Fprintf(&out, "%s: %s\n", what, b)
	}
	evs := readAll(t, f.store, stream, 1, page)
	add("read", evs, nil)
	p, err := f.store.Read(ctx(t), stream, 5, 3)
	add("read from 5", p, err)
	for _, e := range evs {
		if !probe(e.Version) {
			continue
		}
		p, err := f.agg.At(ctx(t), stream, e.Version)
		add(fmt.Sprint("at ", e.Version), p, err)
		p, err = f.agg.AsOf(ctx(t), stream, e.RecordedAt)
		add(fmt.Sprint("as of ", e.RecordedAt), p, err)
		p, err = f.agg.AsOf(ctx(t), stream, e.RecordedAt.Add(500*time.Millisecond))
		add(fmt.Sprint("as of ", e.RecordedAt, " + 0.5s"), p, err)
	}
	past, err := f.agg.At(ctx(t), stream, int64(len(evs)+1))
	add("beyond the head", past, err)
	past, err = f.agg.AsOf(ctx(t), stream, evs[0].RecordedAt.Add(-time.Second))
	add("before the first", past, err)
	cur, err := f.agg.Load(ctx(t), stream)
	add("load", []any{cur.State, cur.Head.Version()}, err)
	return out.String()
}

// itemCount counts every item of the table, by a scan.
func itemCount(t *testing.T, b eventstore.Backend) int {
	t.Helper()
	return scanAll(t, b, 1, 0, nil).read
}

// partitionsImage is every item of the stream's partitions, as JSON.
func partitionsImage(t *testing.T, b eventstore.Backend, stream eventstore.StreamID) string {
	t.Helper()
	var items []string
	for _, pk := range []string{stream.Key(), "snapshot#" + stream.Key()} {
		for _, it := range partition(t, b, pk) {
			items = append(items, itemString(t, it))
		}
	}
	return strings.Join(items, "\n")
}

// checkArchivedItems checks what an archived stream leaves in the table:
// its marker, after a placeholder (a key and a kind alone) at each
// commit's key, and no snapshot.
func checkArchivedItems(t *testing.T, b eventstore.Backend, stream eventstore.StreamID, commits int) {
	t.Helper()
	items := partition(t, b, stream.Key())
	if len(items) != commits+1 {
		t.Fatalf("archived stream holds %d items, want %d placeholders and the marker", len(items), commits)
	}
	for _, it := range items[:commits] {
		if kind, _ := it["kind"].(*types.AttributeValueMemberS); len(it) != 3 || kind == nil || kind.Value != "archived" {
			t.Fatalf("archived stream holds %s, want a placeholder (pk, sk and kind archived)", itemString(t, it))
		}
	}
	if marker := items[commits]; len(marker) <= 3 {
		t.Fatalf("archived stream ends with %s, want its marker", itemString(t, marker))
	}
	if sns := partition(t, b, "snapshot#"+stream.Key()); len(sns) != 0 {
		t.Fatalf("archived stream keeps %d snapshots in the table", len(sns))
	}
}

func testArchiveRoundTrip(t *testing.T, nb NewBackend, no NewObjects) {
	b, objects := nb(t), no(t)
	f := setupOn(t, b)
	stream := archivable(t, f)
	before := storedImage(t, f, stream)
	items := itemCount(t, b)
	snapshots := len(partition(t, b, "snapshot#"+stream.Key()))
	if snapshots < 2 {
		t.Fatalf("the stream has %d snapshots, want some to archive", snapshots)
	}

	a, err := f.store.Archive(ctx(t), stream, objects)
	if err != nil {
		t.Fatalf("archive: %v", err)
	}
	if a.Commits != archivableCommits || a.Snapshots != snapshots || a.Last != 54 || a.Removed != items || a.Bucket != objects.Bucket() || a.Key != eventstore.ArchiveKey(stream, 54) {
		t.Fatalf("archive reports %+v; want %d commits and %d snapshots to 54, %d items removed, in %s", a, archivableCommits, snapshots, items, objects.Bucket())
	}
	checkArchivedItems(t, b, stream, archivableCommits)
	if n := itemCount(t, b); n != archivableCommits+1 {
		t.Fatalf("after archiving the table holds %d items, want the marker and %d placeholders", n, archivableCommits)
	}
	got, ok, err := f.store.ArchiveOf(ctx(t), stream)
	if err != nil || !ok || got.Key != a.Key || got.SHA256 != a.SHA256 || got.Last != 54 {
		t.Fatalf("ArchiveOf = %+v, %v, %v; want %+v", got, ok, err, a)
	}
	// A repeat finds nothing left to do.
	again, err := f.store.Archive(ctx(t), stream, objects)
	if err != nil || again.Removed != 0 || again.Key != a.Key {
		t.Fatalf("archive again = %+v, %v; want nothing removed", again, err)
	}

	restored, err := f.store.Restore(ctx(t), stream, objects)
	if err != nil || !restored {
		t.Fatalf("restore = %v, %v", restored, err)
	}
	if after := storedImage(t, f, stream); after != before {
		t.Fatalf("restored stream reads\n%s\nwant\n%s", after, before)
	}
	if _, ok, err := f.store.ArchiveOf(ctx(t), stream); ok || err != nil {
		t.Fatalf("restored stream still archived (%v)", err)
	}
	if restored, err := f.store.Restore(ctx(t), stream, objects); restored || err != nil {
		t.Fatalf("restore of a stream not archived = %v, %v; want false, nil", restored, err)
	}
	// The restored commits keep their states: a load is the state it was.
	cur, err := f.agg.Load(ctx(t), stream)
	if err != nil || cur.Head.Version() != 54 || cur.Head.Archived() {
		t.Fatalf("load after restore: %v at %d (archived: %v)", err, cur.Head.Version(), cur.Head.Archived())
	}
	// Archived again, the stream makes the same object.
	obj1, _ := objects.Get(ctx(t), a.Key)
	if _, err := f.store.Archive(ctx(t), stream, objects); err != nil {
		t.Fatalf("archive after restore: %v", err)
	}
	if obj2, _ := objects.Get(ctx(t), a.Key); !bytes.Equal(obj1, obj2) {
		t.Fatal("archiving the restored stream made another object")
	}
}

func testArchiveFormat(t *testing.T, nb NewBackend, no NewObjects) {
	b, objects := nb(t), no(t)
	f := setupOn(t, b)
	stream := archivable(t, f)
	commits, err := f.store.ReadCommits(ctx(t), stream, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	snapshots := partition(t, b, "snapshot#"+stream.Key())
	a, err := f.store.Archive(ctx(t), stream, objects)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := objects.Get(ctx(t), a.Key)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := bytes.Cut(obj, []byte("\n"))
	var h map[string]any
	if err := json.Unmarshal(head, &h); err != nil {
		t.Fatalf("header %s: %v", head, err)
	}
	sum := sha256.Sum256(body)
	want := map[string]any{"format": eventstore.ArchiveFormat, "stream": stream.Key(), "first": 1.0, "last": 54.0,
		"commits": float64(archivableCommits), "snapshots": float64(len(snapshots)), "sha256": hex.EncodeToString(sum[:])}
	if !reflect.DeepEqual(h, want) || a.SHA256 != want["sha256"] {
		t.Fatalf("header %v, want %v", h, want)
	}
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	if len(lines) != len(commits)+len(snapshots) {
		t.Fatalf("%d lines for %d commits and %d snapshots", len(lines), len(commits), len(snapshots))
	}
	for i, line := range lines[:len(commits)] {
		var l struct {
			CommitID string `json:"commitId"`
			First    int64  `json:"first"`
			Events   []struct {
				ID      string `json:"id"`
				Version int64  `json:"version"`
				Data    string `json:"data"`
			} `json:"events"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("line %d: %v", i+2, err)
		}
		c := commits[i]
		if l.CommitID != c[0].CommitID || l.First != c[0].Version || len(l.Events) != len(c) {
			t.Fatalf("line %d is %s; want the commit %s at %d", i+2, line, c[0].CommitID, c[0].Version)
		}
		for j, e := range l.Events {
			if e.ID != c[j].ID || e.Version != c[j].Version || e.Data != string(c[j].Data) {
				t.Fatalf("line %d event %d is %+v; want %+v", i+2, j, e, c[j])
			}
		}
	}
	for i, line := range lines[len(commits):] {
		var l struct {
			Snapshot struct {
				Version int64  `json:"version"`
				FoldKey string `json:"foldKey"`
				State   string `json:"state"`
			} `json:"snapshot"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("snapshot line %d: %v", i, err)
		}
		sn := snapshots[i]
		if fmt.Sprint(l.Snapshot.Version) != sn["ver"].(*types.AttributeValueMemberN).Value ||
			l.Snapshot.FoldKey != sn["fk"].(*types.AttributeValueMemberS).Value || l.Snapshot.State != sn["st"].(*types.AttributeValueMemberS).Value {
			t.Fatalf("snapshot line %s; want the snapshot %s", line, itemString(t, sn))
		}
	}
	// An object that is not what the marker says is never restored.
	bad := bytes.Replace(obj, []byte(`{\"n\":0}`), []byte(`{\"n\":9}`), 1)
	if bytes.Equal(bad, obj) {
		t.Fatal("the test's damage changed nothing")
	}
	if err := objects.Put(ctx(t), a.Key, bad); err != nil {
		t.Fatal(err)
	}
	archived := partitionsImage(t, b, stream)
	if ok, err := f.store.Restore(ctx(t), stream, objects); ok || err == nil {
		t.Fatalf("restore from a damaged object = %v, %v; want an error", ok, err)
	}
	if got := partitionsImage(t, b, stream); got != archived {
		t.Fatalf("a refused restore left\n%s\nwant\n%s", got, archived)
	}
}

// No write at any expected version puts anything into an archived
// stream: a plain append at any head the stream ever had (a load's, a
// cache's, a new stream's), a guarded one, a commit of several streams at
// once, a command decided on a cached state. Each is ErrArchived.
func testArchivedRefuses(t *testing.T, nb NewBackend, no NewObjects) {
	b, objects := nb(t), no(t)
	f := setupOn(t, b)
	// Two instances that keep the states they saw, one of the stream at
	// its tenth commit, one at its last.
	cache := eventstore.WithCache(eventstore.NewCache(1 << 20))
	early, late := setupOn(t, b, cache), setupOn(t, b, eventstore.WithCache(eventstore.NewCache(1<<20)))
	cur := fresh(newStream(t))
	stream := cur.Head.Stream()
	heads := []eventstore.Current[tally]{cur}
	for c := range int64(archivableCommits) {
		cur = mustAppend(t, f, cur, c)
		heads = append(heads, cur)
		if c == 9 {
			if _, err := early.agg.Load(ctx(t), stream); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := late.agg.Load(ctx(t), stream); err != nil {
		t.Fatal(err)
	}
	other := mustAppend(t, f, fresh(newStream(t)), 1)
	if _, err := f.store.Archive(ctx(t), stream, objects); err != nil {
		t.Fatal(err)
	}
	archived, otherItems := partitionsImage(t, b, stream), partitionsImage(t, b, other.Head.Stream())

	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, eventstore.ErrArchived) {
			t.Errorf("%s: %v; want ErrArchived", what, err)
		}
	}
	for _, h := range heads {
		_, _, err := f.agg.Append(ctx(t), h, events(1), eventstore.Metadata{}, nil)
		refused(fmt.Sprintf("append at %d", h.Head.Version()), err)
	}
	for _, h := range []eventstore.Current[tally]{heads[0], heads[5], heads[len(heads)-1]} {
		key := fmt.Sprintf("cmd-at-%d", h.Head.Version())
		_, _, err := f.agg.Append(ctx(t), h, events(1), eventstore.Metadata{}, &eventstore.Guard{Tenant: stream.Tenant, CommandID: key})
		refused(fmt.Sprintf("guarded append at %d", h.Head.Version()), err)
		if err := f.store.CheckGuard(ctx(t), stream.Tenant, key); err != nil {
			t.Errorf("the refused command %s left its guard: %v", key, err)
		}
	}
	for _, h := range []eventstore.Current[tally]{heads[3], heads[len(heads)-1]} {
		_, err := f.store.AppendAll(ctx(t), []eventstore.Pending{f.agg.Pending(other, events(2), eventstore.Metadata{}), f.agg.Pending(h, events(2), eventstore.Metadata{})},
			&eventstore.Guard{Tenant: stream.Tenant, CommandID: fmt.Sprintf("step-at-%d", h.Head.Version())})
		refused(fmt.Sprintf("a commit of two streams, the archived one at %d", h.Head.Version()), err)
	}
	decide := func(cur eventstore.Current[tally]) (eventstore.Decision, error) {
		return eventstore.Decision{Events: events(1)}, nil
	}
	for name, in := range map[string]fixture{"the tenth commit": early, "the last commit": late, "no state": f} {
		_, _, err := in.agg.Decide(ctx(t), stream, decide)
		refused("a command decided on "+name, err)
	}
	if got := partitionsImage(t, b, stream); got != archived {
		t.Errorf("refused writes changed the archived stream's items to\n%s\nwant\n%s", got, archived)
	}
	if got := partitionsImage(t, b, other.Head.Stream()); got != otherItems {
		t.Errorf("refused commits of two streams changed the other one to\n%s\nwant\n%s", got, otherItems)
	}
	if cur, err := f.agg.Load(ctx(t), stream); err != nil || !cur.Head.Archived() || cur.Head.Version() != 27 {
		t.Errorf("load of the archived stream: head %d (archived: %v), %v", cur.Head.Version(), cur.Head.Archived(), err)
	}

	// A stream that moved after it was read is not archived.
	moving := archivable(t, f)
	mover := &movingBackend{Backend: b, BatchWriter: b.(eventstore.BatchWriter), move: func() {
		c, err := f.agg.Load(context.Background(), moving)
		if err == nil {
			_, _, err = f.agg.Append(context.Background(), c, events(5), eventstore.Metadata{}, nil)
		}
		if err != nil {
			t.Errorf("move %s: %v", moving, err)
		}
	}}
	moved := setupOn(t, mover)
	if _, err := moved.store.Archive(ctx(t), moving, &movingObjects{ArchiveObjects: objects, mover: mover}); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("archive of a stream that moved: %v; want ErrConflict", err)
	}
	if _, ok, _ := f.store.ArchiveOf(ctx(t), moving); ok {
		t.Fatal("a stream that moved was archived")
	}
	if got := len(readAll(t, f.store, moving, 1, 100)); got != 55 {
		t.Fatalf("the stream that moved reads %d events, want 55", got)
	}
}

func testReadsFromArchive(t *testing.T, nb NewBackend, no NewObjects, depth Depth) {
	b, objects := nb(t), no(t)
	f := setupOn(t, b, eventstore.WithArchive(objects))
	stream := archivable(t, f)
	before := readsImage(t, f, stream, depth)
	if _, err := f.store.Archive(ctx(t), stream, objects); err != nil {
		t.Fatal(err)
	}
	if after := readsImage(t, f, stream, depth); after != before {
		t.Fatalf("archived stream reads\n%s\nwant\n%s", after, before)
	}
	// A store that reads no archives says why it cannot answer.
	plain := setupOn(t, b)
	if _, err := plain.store.Read(ctx(t), stream, 1, 10); !errors.Is(err, eventstore.ErrArchived) {
		t.Errorf("read of an archived stream without its archive: %v; want ErrArchived", err)
	}
	if _, err := plain.agg.At(ctx(t), stream, 3); !errors.Is(err, eventstore.ErrArchived) {
		t.Errorf("state at a version of an archived stream without its archive: %v; want ErrArchived", err)
	}
	if _, err := plain.agg.AsOf(ctx(t), stream, time.Now()); !errors.Is(err, eventstore.ErrArchived) {
		t.Errorf("state as of a time of an archived stream without its archive: %v; want ErrArchived", err)
	}
	// The final state is the marker's: a load needs no archive.
	if cur, err := plain.agg.Load(ctx(t), stream); err != nil || cur.Head.Version() != 54 {
		t.Errorf("load of an archived stream = %d, %v; want its final state at 54", cur.Head.Version(), err)
	}
	if _, err := f.store.Restore(ctx(t), stream, objects); err != nil {
		t.Fatal(err)
	}
	if after := readsImage(t, f, stream, depth); after != before {
		t.Fatalf("restored stream reads\n%s\nwant\n%s", after, before)
	}
}

// countingBatches counts a backend's Queries, and writes batches.
type countingBatches struct {
	*counting
	eventstore.BatchWriter
}

// A restored stream is read at the same cost as before it was archived:
// its load, its states at every version, its states as of every time
// (which start from its snapshots), the same Queries of the same items.
func testRestoredCost(t *testing.T, nb NewBackend, no NewObjects) {
	b, objects := nb(t), no(t)
	cb := &countingBatches{counting: &counting{Backend: b}, BatchWriter: b.(eventstore.BatchWriter)}
	f := setupOn(t, cb)
	stream := archivable(t, f)
	costs := func() string {
		var out []string
		cost := func(what string) {
			q, items := cb.reset()
			out = append(out, fmt.Sprintf("%s: %d Queries, %d items", what, q, items))
		}
		cb.reset()
		if _, err := f.agg.Load(ctx(t), stream); err != nil {
			t.Fatal(err)
		}
		cost("load")
		evs := readAll(t, f.store, stream, 1, 1000)
		cost("read")
		for _, e := range evs {
			if _, err := f.agg.At(ctx(t), stream, e.Version); err != nil {
				t.Fatal(err)
			}
			cost(fmt.Sprint("at ", e.Version))
			if _, err := f.agg.AsOf(ctx(t), stream, e.RecordedAt); err != nil {
				t.Fatal(err)
			}
			cost(fmt.Sprint("as of the time of ", e.Version))
		}
		return strings.Join(out, "\n")
	}
	before := costs()
	if _, err := f.store.Archive(ctx(t), stream, objects); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.store.Restore(ctx(t), stream, objects); !ok || err != nil {
		t.Fatalf("restore = %v, %v", ok, err)
	}
	if after := costs(); after != before {
		t.Fatalf("the restored stream's reads cost\n%s\nbefore it was archived\n%s", after, before)
	}
}

// smallScans has every scan read a few items per page, so that the pages
// of a scan cut through streams.
type smallScans struct {
	eventstore.Backend
	eventstore.BatchWriter
}

func (s smallScans) Scan(ctx context.Context, sc eventstore.Scan) (eventstore.ScanPage, error) {
	sc.Limit = 4
	return s.Backend.Scan(ctx, sc)
}

// scanAllCommits reads every segment's pages of ScanCommits and returns
// the commits by stream, and the archived streams listed.
func scanAllCommits(t *testing.T, store *eventstore.Store, segments int, skip bool) (map[eventstore.StreamID][][]eventstore.Event, []eventstore.ArchivedStream, error) {
	t.Helper()
	commits := map[eventstore.StreamID][][]eventstore.Event{}
	var archived []eventstore.ArchivedStream
	for seg := range max(segments, 1) {
		sc := eventstore.CommitScan{Segment: seg, Segments: segments, SkipArchives: skip}
		for pages := 0; ; pages++ {
			if pages > 10_000 {
				t.Fatal("scan does not end")
			}
			p, err := store.ScanCommits(ctx(t), sc)
			if err != nil {
				return nil, nil, err
			}
			for _, c := range p.Commits {
				commits[c[0].Stream] = append(commits[c[0].Stream], c)
			}
			archived = append(archived, p.Archived...)
			if p.Next == nil {
				break
			}
			// Every cursor goes through its text, as a run that takes up
			// another's scan has it.
			text, err := p.Next.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			sc.Cursor = &eventstore.ScanCursor{}
			if err := sc.Cursor.UnmarshalText(text); err != nil {
				t.Fatalf("cursor %s: %v", text, err)
			}
		}
	}
	slices.SortFunc(archived, func(a, b eventstore.ArchivedStream) int { return strings.Compare(a.Stream.Key(), b.Stream.Key()) })
	return commits, archived, nil
}

// stopArchive archives the stream through a backend that stops at its
// nth write (after it applies): what an archival that stopped leaves.
func stopArchive(t *testing.T, f fixture, stream eventstore.StreamID, objects eventstore.ArchiveObjects, n int) {
	t.Helper()
	c := &crashes{at: n, after: true}
	cb := &crashingBackend{Backend: f.backend, bw: f.backend.(eventstore.BatchWriter), crashes: c}
	if _, err := setupOn(t, cb).store.Archive(ctx(t), stream, &crashingObjects{ArchiveObjects: objects, crashes: c}); !errors.Is(err, errCrash) {
		t.Fatalf("archive stopped at write %d: %v", n, err)
	}
}

// A scan of commits gives every stream's commits once, whole and in
// version order, as they were before any archival, whatever the streams'
// state: live, archived, archived half way (commits after placeholders, or
// every commit before the marker), restored; in pages that cut through
// them. Skipping archives, it lists the archived streams instead, and
// says which still hold commits.
func testScanArchives(t *testing.T, nb NewBackend, no NewObjects) {
	b, objects := nb(t), no(t)
	small := smallScans{Backend: b, BatchWriter: b.(eventstore.BatchWriter)}
	f := setupOn(t, small, eventstore.WithArchive(objects))
	live := mustAppend(t, f, mustAppend(t, f, fresh(newStream(t)), 1), 2, 3).Head.Stream()
	archived, afterPlaceholders, beforePlaceholders, restored := archivable(t, f), archivable(t, f), archivable(t, f), archivable(t, f)
	want := map[eventstore.StreamID]string{}
	for _, s := range []eventstore.StreamID{live, archived, afterPlaceholders, beforePlaceholders, restored} {
		cs, err := f.store.ReadCommits(ctx(t), s, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		want[s] = CommitVersions(cs) + " " + commitIDs(cs)
	}
	for _, s := range []eventstore.StreamID{archived, restored} {
		if _, err := f.store.Archive(ctx(t), s, objects); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.store.Restore(ctx(t), restored, objects); err != nil {
		t.Fatal(err)
	}
	// An archival writes the object, the marker, a batch deleting the
	// snapshots, then the placeholders 25 at a time.
	stopArchive(t, f, afterPlaceholders, objects, 4)
	stopArchive(t, f, beforePlaceholders, objects, 3)
	if n := len(partition(t, b, afterPlaceholders.Key())); n != archivableCommits+1 {
		t.Fatalf("the archival stopped after its first placeholders left %d items", n)
	}

	for _, segments := range []int{0, 3} {
		got, listed, err := scanAllCommits(t, f.store, segments, false)
		if err != nil {
			t.Fatalf("%d segments: %v", segments, err)
		}
		if listed != nil {
			t.Errorf("%d segments: a scan that reads archives listed %v", segments, listed)
		}
		for s, w := range want {
			if g := CommitVersions(got[s]) + " " + commitIDs(got[s]); g != w {
				t.Errorf("%d segments: %s scans as %s, want %s", segments, s, g, w)
			}
		}
		got, listed, err = scanAllCommits(t, f.store, segments, true)
		if err != nil {
			t.Fatalf("%d segments, skipping archives: %v", segments, err)
		}
		// Nothing is written meanwhile: eventually consistent pages read
		// the same, at half the price.
		m := &eventstore.Meter{}
		p, err := f.store.ScanCommits(eventstore.WithMeter(ctx(t), m), eventstore.CommitScan{SkipArchives: true, Eventual: true})
		if err != nil || p.Scanned == 0 || m.Usage().ReadUnits != 0.5 {
			t.Errorf("an eventually consistent page: %d items, %v read units, %v; want half a unit", p.Scanned, m.Usage().ReadUnits, err)
		}
		for _, s := range []eventstore.StreamID{live, restored, beforePlaceholders} {
			if g := CommitVersions(got[s]) + " " + commitIDs(got[s]); g != want[s] {
				t.Errorf("%d segments, skipping archives: %s scans as %s, want %s", segments, s, g, want[s])
			}
		}
		for _, s := range []eventstore.StreamID{archived, afterPlaceholders} {
			if got[s] != nil {
				t.Errorf("%d segments, skipping archives: %s gave %s", segments, s, CommitVersions(got[s]))
			}
		}
		wantListed := []eventstore.ArchivedStream{{Stream: archived}, {Stream: afterPlaceholders, Leftovers: true}, {Stream: beforePlaceholders, Leftovers: true}}
		slices.SortFunc(wantListed, func(a, b eventstore.ArchivedStream) int { return strings.Compare(a.Stream.Key(), b.Stream.Key()) })
		if !reflect.DeepEqual(listed, wantListed) {
			t.Errorf("%d segments, skipping archives: listed %v, want %v", segments, listed, wantListed)
		}
	}
	for _, junk := range []string{"", "{}", `{"pk":"a","sk":"x"}`} {
		if err := new(eventstore.ScanCursor).UnmarshalText([]byte(junk)); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("cursor %q: %v, want ErrInvalid", junk, err)
		}
	}
	// Without archives, a scan that would drop the archived streams fails.
	if _, _, err := scanAllCommits(t, setupOn(t, b).store, 0, false); !errors.Is(err, eventstore.ErrArchived) {
		t.Errorf("scan of a table with archived streams by a store without archives: %v, want ErrArchived", err)
	}
}

func commitIDs(commits [][]eventstore.Event) string {
	ids := make([]string, len(commits))
	for i, c := range commits {
		ids[i] = c[0].CommitID
	}
	return strings.Join(ids, ",")
}

// ReadCommits and ReadCommitsAfter of an archived stream, whole or half
// way, read its archive: the same commits as before.
func testReadCommitsArchived(t *testing.T, nb NewBackend, no NewObjects) {
	b, objects := nb(t), no(t)
	f := setupOn(t, b, eventstore.WithArchive(objects))
	archived, half := archivable(t, f), archivable(t, f)
	image := func(s eventstore.StreamID) string {
		var out []string
		for _, r := range [][2]int64{{1, 0}, {5, 9}, {20, 20}, {54, 0}, {55, 0}} {
			cs, err := f.store.ReadCommits(ctx(t), s, r[0], r[1])
			if err != nil {
				t.Fatalf("read commits %v of %s: %v", r, s, err)
			}
			out = append(out, fmt.Sprintf("%v: %s %s", r, CommitVersions(cs), commitIDs(cs)))
		}
		for _, after := range []int64{0, 3, 54} {
			p, err := f.store.ReadCommitsAfter(ctx(t), s, after)
			if err != nil {
				t.Fatalf("read commits of %s after %d: %v", s, after, err)
			}
			for p.Next != 0 {
				next, err := f.store.ReadCommitsAfter(ctx(t), s, p.Next)
				if err != nil {
					t.Fatal(err)
				}
				p.Commits, p.Next = append(p.Commits, next.Commits...), next.Next
			}
			out = append(out, fmt.Sprintf("after %d: %s %s", after, CommitVersions(p.Commits), commitIDs(p.Commits)))
		}
		return strings.Join(out, "\n")
	}
	before := map[eventstore.StreamID]string{archived: image(archived), half: image(half)}
	if _, err := f.store.Archive(ctx(t), archived, objects); err != nil {
		t.Fatal(err)
	}
	stopArchive(t, f, half, objects, 4)
	for s, w := range before {
		if got := image(s); got != w {
			t.Errorf("%s reads its commits as\n%s\nwant\n%s", s, got, w)
		}
	}
}

// movingBackend appends to a stream once the archive object is written,
// before the marker is.
type movingBackend struct {
	eventstore.Backend
	eventstore.BatchWriter
	once sync.Once
	move func()
}

type movingObjects struct {
	eventstore.ArchiveObjects
	mover *movingBackend
}

func (m *movingObjects) Put(ctx context.Context, key string, body []byte) error {
	err := m.ArchiveObjects.Put(ctx, key, body)
	m.mover.once.Do(m.mover.move)
	return err
}

// withArchive is the fixture's table read through a store that reads
// archives from objects.
func withArchive(t *testing.T, f fixture, objects eventstore.ArchiveObjects) fixture {
	return setupOn(t, f.backend, eventstore.WithArchive(objects))
}

var errCrash = fmt.Errorf("crash injected: %w", eventstore.ErrUnknownOutcome)

// step is one write or delete of the table or the bucket, named by kind:
// "object", "write" (a conditional write: the marker), "batch".
type step struct{ kind string }

// crashes counts the writes and deletes of the table and of the bucket,
// and fails the one numbered at: before it is applied, or after. With at
// 0 it fails none and records them all.
type crashes struct {
	at    int
	after bool
	mu    sync.Mutex
	n     int
	steps []step
}

func (c *crashes) step(kind string, apply func() error) error {
	c.mu.Lock()
	c.n++
	n := c.n
	c.steps = append(c.steps, step{kind})
	c.mu.Unlock()
	if n == c.at && !c.after {
		return errCrash
	}
	if err := apply(); err != nil {
		return err
	}
	if n == c.at {
		return errCrash
	}
	return nil
}

type crashingBackend struct {
	eventstore.Backend
	bw eventstore.BatchWriter
	*crashes
}

func (c *crashingBackend) Write(ctx context.Context, w []eventstore.Write, token string) error {
	return c.step("write", func() error { return c.Backend.Write(ctx, w, token) })
}

func (c *crashingBackend) WriteBatch(ctx context.Context, puts, dels []eventstore.Item) error {
	return c.step("batch", func() error { return c.bw.WriteBatch(ctx, puts, dels) })
}

type crashingObjects struct {
	eventstore.ArchiveObjects
	*crashes
}

func (c *crashingObjects) Put(ctx context.Context, key string, body []byte) error {
	return c.step("object", func() error { return c.ArchiveObjects.Put(ctx, key, body) })
}

// crashPoint is a step to fail, before it applies or after.
type crashPoint struct {
	at    int
	after bool
}

// crashPoints are the steps to fail at depth, from a run that failed
// none.
func crashPoints(steps []step, depth Depth) []crashPoint {
	var out []crashPoint
	for i, s := range steps {
		n := i + 1
		switch {
		case depth == Exhaustive:
			out = append(out, crashPoint{n, false}, crashPoint{n, true})
		case n == 1 || s.kind == "write":
			out = append(out, crashPoint{n, false})
			if s.kind == "write" || s.kind == "batch" {
				out = append(out, crashPoint{n, true})
			}
		case s.kind == "batch" || n == len(steps):
			out = append(out, crashPoint{n, true})
		}
	}
	return out
}

// crashTest runs op on a fresh stream once without a crash, to learn its
// steps, then once for each crash point (crashPoints), failing that step
// (before it applies, or after), and checks that the stream reads as
// before meanwhile and that running the operation again finishes it.
func crashTest(t *testing.T, nb NewBackend, no NewObjects, depth Depth, archivedFirst bool, op func(*eventstore.Store, eventstore.StreamID, eventstore.ArchiveObjects) error, check func(*testing.T, fixture, eventstore.StreamID, eventstore.ArchiveObjects, string)) {
	// One table and one bucket for every run: each archives a stream of
	// its own.
	b, objects := nb(t), no(t)
	f := setupOn(t, b)
	run := func(c *crashes) (eventstore.StreamID, string, string, error) {
		stream := archivable(t, f)
		before := storedImage(t, f, stream)
		reads := sampledReadsImage(t, withArchive(t, f, objects), stream)
		if archivedFirst {
			if _, err := f.store.Archive(ctx(t), stream, objects); err != nil {
				t.Fatal(err)
			}
		}
		cb := &crashingBackend{Backend: b, bw: b.(eventstore.BatchWriter), crashes: c}
		return stream, before, reads, op(setupOn(t, cb).store, stream, &crashingObjects{ArchiveObjects: objects, crashes: c})
	}
	dry := &crashes{}
	stream, before, _, err := run(dry)
	if err != nil {
		t.Fatalf("without a crash: %v", err)
	}
	if len(dry.steps) < 3 {
		t.Fatalf("the operation made only %d writes", len(dry.steps))
	}
	check(t, f, stream, objects, before)
	for _, p := range crashPoints(dry.steps, depth) {
		at, after := p.at, p.after
		c := &crashes{at: at, after: after}
		stream, before, reads, err := run(c)
		if !errors.Is(err, errCrash) {
			t.Fatalf("crash at write %d of %v (after: %v) returned %v", at, dry.steps, after, err)
		}
		if got := sampledReadsImage(t, withArchive(t, f, objects), stream); got != reads {
			t.Fatalf("after a crash at write %d (after: %v) the stream reads\n%s\nwant\n%s", at, after, got, reads)
		}
		if err := op(f.store, stream, objects); err != nil {
			t.Fatalf("run again after a crash at write %d (after: %v): %v", at, after, err)
		}
		check(t, f, stream, objects, before)
	}
}

func testArchiveCrash(t *testing.T, nb NewBackend, no NewObjects, depth Depth) {
	crashTest(t, nb, no, depth, false,
		func(s *eventstore.Store, stream eventstore.StreamID, o eventstore.ArchiveObjects) error {
			_, err := s.Archive(ctx(t), stream, o)
			return err
		},
		func(t *testing.T, f fixture, stream eventstore.StreamID, objects eventstore.ArchiveObjects, before string) {
			checkArchivedItems(t, f.backend, stream, archivableCommits)
			if ok, err := f.store.Restore(ctx(t), stream, objects); !ok || err != nil {
				t.Fatalf("restore = %v, %v", ok, err)
			}
			if after := storedImage(t, f, stream); after != before {
				t.Fatalf("stream archived after a crash reads, restored,\n%s\nwant\n%s", after, before)
			}
		})
}

func testRestoreCrash(t *testing.T, nb NewBackend, no NewObjects, depth Depth) {
	crashTest(t, nb, no, depth, true,
		func(s *eventstore.Store, stream eventstore.StreamID, o eventstore.ArchiveObjects) error {
			_, err := s.Restore(ctx(t), stream, o)
			return err
		},
		func(t *testing.T, f fixture, stream eventstore.StreamID, _ eventstore.ArchiveObjects, before string) {
			if after := storedImage(t, f, stream); after != before {
				t.Fatalf("restored stream reads\n%s\nwant\n%s", after, before)
			}
			if _, ok, err := f.store.ArchiveOf(ctx(t), stream); ok || err != nil {
				t.Fatalf("restored stream still archived (%v)", err)
			}
		})
}
