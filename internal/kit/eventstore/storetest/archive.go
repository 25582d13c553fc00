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
	"sync"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
)

// NewObjects returns a fresh, empty bucket of archive objects for one test.
type NewObjects func(t *testing.T) eventstore.ArchiveObjects

// RunArchive runs the archival contract against backends and buckets. The
// backend must be an eventstore.Deleter.
func RunArchive(t *testing.T, newBackend NewBackend, newObjects NewObjects) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewBackend, NewObjects)
	}{
		{"ArchiveLeavesOneItemAndRestoreBringsTheCommitsBack", testArchiveRoundTrip},
		{"ArchiveObjectIsCheckedLines", testArchiveFormat},
		{"ArchivedStreamRefusesCommits", testArchivedRefuses},
		{"ReadsAnswerFromTheArchive", testReadsFromArchive},
		{"ArchiveThatStopsAnywhereFinishes", testArchiveCrash},
		{"RestoreThatStopsAnywhereFinishes", testRestoreCrash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend, newObjects)
		})
	}
}

// archivable builds a stream of 27 commits of one to three events, more
// items than one delete batch, with snapshots (K = 10).
func archivable(t *testing.T, f fixture) eventstore.StreamID {
	t.Helper()
	stream := newStream(t)
	cur := fresh(stream)
	for c := range int64(27) {
		ns := make([]int64, 1+c%3)
		for i := range ns {
			ns[i] = c*10 + int64(i)
		}
		cur = mustAppend(t, f, cur, ns...)
	}
	return stream
}

// storedImage is what a stream reads as: its whole commits and its events
// page by page, both as JSON, to compare byte for byte.
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
	return string(a) + "\n" + string(b)
}

// readsImage is what every read of a stream answers, as JSON: its events
// page by page, its state at each version and as of each commit's time
// (and half a second later, and before the first), and its load.
func readsImage(t *testing.T, f fixture, stream eventstore.StreamID) string {
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
	evs := readAll(t, f.store, stream, 1, 7)
	add("read", evs, nil)
	p, err := f.store.Read(ctx(t), stream, 5, 3)
	add("read from 5", p, err)
	for _, e := range evs {
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

func testArchiveRoundTrip(t *testing.T, nb NewBackend, no NewObjects) {
	b, objects := nb(t), no(t)
	f := setupOn(t, b)
	stream := archivable(t, f)
	before := storedImage(t, f, stream)
	items := itemCount(t, b)

	a, err := f.store.Archive(ctx(t), stream, objects)
	if err != nil {
		t.Fatalf("archive: %v", err)
	}
	if a.Commits != 27 || a.Last != 54 || a.Removed != items || a.Bucket != objects.Bucket() || a.Key != eventstore.ArchiveKey(stream, 54) {
		t.Fatalf("archive reports %+v; want 27 commits to 54, %d items removed, in %s", a, items, objects.Bucket())
	}
	if n := itemCount(t, b); n != 1 {
		t.Fatalf("after archiving the table holds %d items, want the marker alone", n)
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
	if err != nil || cur.Head.Version() != 54 {
		t.Fatalf("load after restore: %v at %d", err, cur.Head.Version())
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
	want := map[string]any{"format": eventstore.ArchiveFormat, "stream": stream.Key(), "first": 1.0, "last": 54.0, "commits": 27.0, "sha256": hex.EncodeToString(sum[:])}
	if !reflect.DeepEqual(h, want) || a.SHA256 != want["sha256"] {
		t.Fatalf("header %v, want %v", h, want)
	}
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	if len(lines) != len(commits) {
		t.Fatalf("%d lines for %d commits", len(lines), len(commits))
	}
	for i, line := range lines {
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
	// An object that is not what the marker says is never restored.
	bad := bytes.Replace(obj, []byte(`{\"n\":0}`), []byte(`{\"n\":9}`), 1)
	if bytes.Equal(bad, obj) {
		t.Fatal("the test's damage changed nothing")
	}
	if err := objects.Put(ctx(t), a.Key, bad); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.store.Restore(ctx(t), stream, objects); ok || err == nil {
		t.Fatalf("restore from a damaged object = %v, %v; want an error", ok, err)
	}
	if n := itemCount(t, b); n != 1 {
		t.Fatalf("a refused restore left %d items, want the marker alone", n)
	}
}

func testArchivedRefuses(t *testing.T, nb NewBackend, no NewObjects) {
	b, objects := nb(t), no(t)
	f := setupOn(t, b)
	stream := archivable(t, f)
	cur, err := f.agg.Load(ctx(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Archive(ctx(t), stream, objects); err != nil {
		t.Fatal(err)
	}
	// A writer that holds the final head meets the marker.
	if _, _, err := f.agg.Append(ctx(t), cur, events(1), eventstore.Metadata{}, nil); !errors.Is(err, eventstore.ErrArchived) {
		t.Fatalf("append to an archived stream: %v; want ErrArchived", err)
	}
	if n := itemCount(t, b); n != 1 {
		t.Fatalf("a refused append left %d items", n)
	}
	// A stream that moved after it was read is not archived.
	other := archivable(t, f)
	mover := &movingBackend{Backend: b, Deleter: b.(eventstore.Deleter), move: func() {
		c, err := f.agg.Load(context.Background(), other)
		if err == nil {
			_, _, err = f.agg.Append(context.Background(), c, events(5), eventstore.Metadata{}, nil)
		}
		if err != nil {
			t.Errorf("move %s: %v", other, err)
		}
	}}
	moved := setupOn(t, mover)
	if _, err := moved.store.Archive(ctx(t), other, &movingObjects{ArchiveObjects: objects, mover: mover}); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("archive of a stream that moved: %v; want ErrConflict", err)
	}
	if _, ok, _ := f.store.ArchiveOf(ctx(t), other); ok {
		t.Fatal("a stream that moved was archived")
	}
	if got := len(readAll(t, f.store, other, 1, 100)); got != 55 {
		t.Fatalf("the stream that moved reads %d events, want 55", got)
	}
}

func testReadsFromArchive(t *testing.T, nb NewBackend, no NewObjects) {
	b, objects := nb(t), no(t)
	f := setupOn(t, b, eventstore.WithArchive(objects))
	stream := archivable(t, f)
	before := readsImage(t, f, stream)
	if _, err := f.store.Archive(ctx(t), stream, objects); err != nil {
		t.Fatal(err)
	}
	if after := readsImage(t, f, stream); after != before {
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
	// The final state is the marker's: a load needs no archive.
	if cur, err := plain.agg.Load(ctx(t), stream); err != nil || cur.Head.Version() != 54 {
		t.Errorf("load of an archived stream = %d, %v; want its final state at 54", cur.Head.Version(), err)
	}
	// A command decided on it is refused.
	_, _, err := f.agg.Decide(ctx(t), stream, func(cur eventstore.Current[tally]) (eventstore.Decision, error) {
		return eventstore.Decision{Events: events(1)}, nil
	})
	if !errors.Is(err, eventstore.ErrArchived) {
		t.Errorf("command on an archived stream: %v; want ErrArchived", err)
	}
	final, err := f.agg.Load(ctx(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.agg.Append(ctx(t), final, events(1), eventstore.Metadata{}, nil); !errors.Is(err, eventstore.ErrArchived) {
		t.Errorf("append at an archived head: %v; want ErrArchived", err)
	}
	if n := itemCount(t, b); n != 1 {
		t.Errorf("refused commands left %d items, want the marker alone", n)
	}
	if _, err := f.store.Restore(ctx(t), stream, objects); err != nil {
		t.Fatal(err)
	}
	if after := readsImage(t, f, stream); after != before {
		t.Fatalf("restored stream reads\n%s\nwant\n%s", after, before)
	}
}

// movingBackend appends to a stream once the archive object is written,
// before the marker is.
type movingBackend struct {
	eventstore.Backend
	eventstore.Deleter
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

// crashes counts the writes and deletes of the table and of the bucket,
// and fails the one numbered at: before it is applied, or after.
type crashes struct {
	at    int
	after bool
	mu    sync.Mutex
	n     int
}

func (c *crashes) step(apply func() error) error {
	c.mu.Lock()
	c.n++
	n := c.n
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

func (c *crashes) crashed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n >= c.at
}

type crashingBackend struct {
	eventstore.Backend
	del eventstore.Deleter
	*crashes
}

func (c *crashingBackend) Write(ctx context.Context, w []eventstore.Write, token string) error {
	return c.step(func() error { return c.Backend.Write(ctx, w, token) })
}

func (c *crashingBackend) Delete(ctx context.Context, keys []eventstore.Item) error {
	return c.step(func() error { return c.del.Delete(ctx, keys) })
}

type crashingObjects struct {
	eventstore.ArchiveObjects
	*crashes
}

func (c *crashingObjects) Put(ctx context.Context, key string, body []byte) error {
	return c.step(func() error { return c.ArchiveObjects.Put(ctx, key, body) })
}

// crashEverywhere runs op on a fresh stream once for each write or delete
// it makes, failing that one (before it applies, then after), and checks
// that running the operation again finishes it.
func crashEverywhere(t *testing.T, nb NewBackend, no NewObjects, archivedFirst bool, op func(*eventstore.Store, eventstore.StreamID, eventstore.ArchiveObjects) error, check func(*testing.T, fixture, eventstore.StreamID, eventstore.ArchiveObjects, string)) {
	for _, after := range []bool{false, true} {
		for at := 1; ; at++ {
			b, objects := nb(t), no(t)
			f := setupOn(t, b)
			stream := archivable(t, f)
			before := storedImage(t, f, stream)
			reads := readsImage(t, withArchive(t, f, objects), stream)
			if archivedFirst {
				if _, err := f.store.Archive(ctx(t), stream, objects); err != nil {
					t.Fatal(err)
				}
			}
			c := &crashes{at: at, after: after}
			cb := &crashingBackend{Backend: b, del: b.(eventstore.Deleter), crashes: c}
			err := op(setupOn(t, cb).store, stream, &crashingObjects{ArchiveObjects: objects, crashes: c})
			if !c.crashed() {
				if err != nil {
					t.Fatalf("without a crash: %v", err)
				}
				if at < 3 {
					t.Fatalf("the operation made only %d writes", at-1)
				}
				break
			}
			if !errors.Is(err, errCrash) {
				t.Fatalf("crash at write %d (after: %v) returned %v", at, after, err)
			}
			if got := readsImage(t, withArchive(t, f, objects), stream); got != reads {
				t.Fatalf("after a crash at write %d (after: %v) the stream reads\n%s\nwant\n%s", at, after, got, reads)
			}
			if err := op(f.store, stream, objects); err != nil {
				t.Fatalf("run again after a crash at write %d (after: %v): %v", at, after, err)
			}
			check(t, f, stream, objects, before)
		}
	}
}

func testArchiveCrash(t *testing.T, nb NewBackend, no NewObjects) {
	crashEverywhere(t, nb, no, false,
		func(s *eventstore.Store, stream eventstore.StreamID, o eventstore.ArchiveObjects) error {
			_, err := s.Archive(ctx(t), stream, o)
			return err
		},
		func(t *testing.T, f fixture, stream eventstore.StreamID, objects eventstore.ArchiveObjects, before string) {
			if n := itemCount(t, f.backend); n != 1 {
				t.Fatalf("archived table holds %d items, want the marker alone", n)
			}
			if ok, err := f.store.Restore(ctx(t), stream, objects); !ok || err != nil {
				t.Fatalf("restore = %v, %v", ok, err)
			}
			if after := storedImage(t, f, stream); after != before {
				t.Fatalf("stream archived after a crash reads, restored,\n%s\nwant\n%s", after, before)
			}
		})
}

func testRestoreCrash(t *testing.T, nb NewBackend, no NewObjects) {
	crashEverywhere(t, nb, no, true,
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
