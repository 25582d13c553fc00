// Package storetest is the event store's contract suite: one set of tests
// that every Backend must pass through the Store, so that the in-memory
// backend used by fast unit tests behaves exactly like DynamoDB. It also
// gives other packages' tests the broken items they need, so that they do
// not learn the item layout to make them.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
)

// NewBackend returns a fresh, empty backend for one test.
type NewBackend func(t *testing.T) eventstore.Backend

// Run runs the whole contract against backends from newBackend.
func Run(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewBackend)
	}{
		{"AppendThenLoad", testAppendThenLoad},
		{"MissingStream", testMissingStream},
		{"RacingAppendsAreGaplessAndExact", testRacingAppends},
		{"StaleWriterCollides", testStaleWriter},
		{"UnobservedHeadIsRefused", testUnobservedHead},
		{"RecordedAtNeverGoesBackwards", testRecordedAtMonotonic},
		{"GuardedCommandAppliesOnce", testGuard},
		{"OutcomeWithoutACommitIsKeptOnce", testRecordOutcome},
		{"ExpiredGuardFreesItsCommandID", testGuardExpiry},
		{"UnknownOutcomeIsResentNotRedecided", testUnknownOutcome},
		{"ResendAfterSomeoneElseWroteIsAConflict", testUnknownOutcomeThenConflict},
		{"AppendAllIsAllOrNothing", testAppendAll},
		{"CommitSizeLimit", testSizeLimit},
		{"ReadPagesFromInsideACommit", testReadMidCommit},
		{"StateAtVersionAndTime", testTimeTravel},
		{"LoadWithSnapshotsIsOneQuery", testSnapshotLoad},
		{"MultiStreamCommitsSnapshotToo", testAdvanceSnapshots},
		{"CommitsKeepSmallStates", testKeptState},
		{"LargeStatesAreNotKept", testLargeState},
		{"AsOfIsTwoQueriesAtAnyTime", testAsOfCost},
		{"DecideOnASeenStreamIsOneWrite", testDecideWarm},
		{"DecideNeverTrustsACacheWithoutAWrite", testDecideStale},
		{"GuardedDecideOnASeenStreamIsOneTransaction", testDecideGuardedWarm},
		{"RacingInstancesWithStaleCachesDecideOnTheirHead", testDecideRace},
		{"UnreadableSnapshotFallsBackToReplay", testSnapshotFallback},
		{"NewFoldLogicIgnoresOldSnapshots", testLogicVersion},
		{"TenantsAreSeparate", testTenants},
		{"ScanSegmentsPartitionTheTable", testScanSegments},
		{"ScanFilterComparesAsDynamoDB", testScanFilter},
		{"ScanPagesStopAt1MB", testScanPages},
		{"ScanCommitsReadsEachCommitOnce", testScanCommits},
		{"ScanCommitsPagesCostOneScan", testScanCommitsPages},
		{"ScanCommitsSinceATime", testScanSince},
		{"ReadCommitsTakesWholeCommits", testReadCommits},
		{"ReadCommitsAfterPages", testReadCommitsAfter},
		{"DecodeCommitTellsCommitsFromOthers", testDecodeCommit},
		{"ItemCountIsTheBackendsEstimate", testItemCount},
	}
	// Every case runs with and without a cache of states: a cache must
	// change what a command costs, never what any operation answers.
	for _, variant := range []string{noCacheRun, cacheRun} {
		t.Run(variant, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, newBackend)
				})
			}
		})
	}
}

const (
	noCacheRun = "no-cache"
	cacheRun   = "cache"
)

// newStore is the store every case uses: in the cache run, with a cache of
// its own.
func newStore(t *testing.T, b eventstore.Backend, opts ...eventstore.Option) *eventstore.Store {
	if strings.Contains(t.Name()+"/", "/"+cacheRun+"/") {
		opts = append([]eventstore.Option{eventstore.WithCache(eventstore.NewCache(1 << 20))}, opts...)
	}
	return eventstore.New(b, opts...)
}

// tally is the suite's aggregate: it adds numbers and remembers the
// versions it saw, so a fold that skips, repeats or reorders shows.
type tally struct {
	Sum      int64   `json:"sum"`
	Versions []int64 `json:"versions"`
}

type added struct {
	N int64 `json:"n"`
}

func tallyFold(logic int) eventstore.Fold[tally] {
	return eventstore.Fold[tally]{
		Name:         "tally",
		LogicVersion: logic,
		StateSchema:  1,
		Evolve: func(s tally, e eventstore.Event) (tally, error) {
			var a added
			if err := json.Unmarshal(e.Data, &a); err != nil {
				return s, err
			}
			if logic >= 2 {
				a.N *= 10 // a changed rule: version 2 counts tens
			}
			s.Sum += a.N
			s.Versions = append(s.Versions, e.Version)
			return s, nil
		},
	}
}

func event(n int64) eventstore.NewEvent {
	return eventstore.NewEvent{Type: "Added", SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}
}

func events(ns ...int64) []eventstore.NewEvent {
	out := make([]eventstore.NewEvent, len(ns))
	for i, n := range ns {
		out[i] = event(n)
	}
	return out
}

// fold is the reference: the plain fold of the given events' numbers.
func fold(logic int, evs []eventstore.Event) tally {
	f := tallyFold(logic)
	var s tally
	for _, e := range evs {
		var err error
		if s, err = f.Evolve(s, e); err != nil {
			panic(err)
		}
	}
	return s
}

// quiet drops the store's warnings: the suite provokes them on purpose.
var quiet = eventstore.WithLogger(slog.New(slog.DiscardHandler))

var streamSeq atomic.Int64

func newStream(t *testing.T) eventstore.StreamID {
	id, err := eventstore.NewStreamID("tenant-a", "tally", fmt.Sprintf("s%d", streamSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// clock is a test clock that advances by step on every reading.
type clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func newClock(step time.Duration) *clock {
	return &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), step: step}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

type fixture struct {
	backend eventstore.Backend
	store   *eventstore.Store
	agg     *eventstore.Aggregate[tally]
	clock   *clock
}

func setup(t *testing.T, nb NewBackend, opts ...eventstore.Option) fixture {
	t.Helper()
	return setupOn(t, nb(t), opts...)
}

// setupOn is setup over a given backend, such as a counting one.
func setupOn(t *testing.T, b eventstore.Backend, opts ...eventstore.Option) fixture {
	f := fixture{backend: b, clock: newClock(time.Second)}
	opts = append([]eventstore.Option{eventstore.WithClock(f.clock.Now), quiet}, opts...)
	f.store = newStore(t, f.backend, opts...)
	f.agg = eventstore.NewAggregate(f.store, tallyFold(1))
	return f
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustAppend(t *testing.T, f fixture, cur eventstore.Current[tally], ns ...int64) eventstore.Current[tally] {
	t.Helper()
	next, _, err := f.agg.Append(ctx(t), cur, events(ns...), eventstore.Metadata{}, nil)
	if err != nil {
		t.Fatalf("append %v at %d: %v", ns, cur.Head.Version(), err)
	}
	return next
}

func fresh(stream eventstore.StreamID) eventstore.Current[tally] {
	return eventstore.Current[tally]{Head: eventstore.NewStream(stream)}
}

func readAll(t *testing.T, s *eventstore.Store, stream eventstore.StreamID, from int64, limit int) []eventstore.Event {
	t.Helper()
	var all []eventstore.Event
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("read does not end")
		}
		p, err := s.Read(ctx(t), stream, from, limit)
		if err != nil {
			t.Fatalf("read %s from %d: %v", stream, from, err)
		}
		if len(p.Events) > limit {
			t.Fatalf("read returned %d events for limit %d", len(p.Events), limit)
		}
		all = append(all, p.Events...)
		if p.Next == 0 {
			return all
		}
		if p.Next <= from {
			t.Fatalf("read cursor went from %d to %d", from, p.Next)
		}
		from = p.Next
	}
}

func assertGapless(t *testing.T, evs []eventstore.Event, from, to int64) {
	t.Helper()
	if int64(len(evs)) != to-from+1 {
		t.Fatalf("read %d events, want versions %d..%d", len(evs), from, to)
	}
	for i, e := range evs {
		if e.Version != from+int64(i) {
			t.Fatalf("event %d has version %d, want %d", i, e.Version, from+int64(i))
		}
	}
}

func testAppendThenLoad(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	stream := newStream(t)
	meta := eventstore.Metadata{CommandID: "cmd-1", CorrelationID: "cor-1", CausationID: "cau-1", Actor: "alice", TraceID: "1-5759e988-bd862e3fe1be46a994272793"}
	cur, recorded, err := f.agg.Append(ctx(t), fresh(stream), events(1, 2, 3), meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Head.Version() != 3 || len(recorded) != 3 {
		t.Fatalf("head %d after 3 events (%d recorded)", cur.Head.Version(), len(recorded))
	}
	loaded, err := f.agg.Load(ctx(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Head.Version() != 3 || loaded.State.Sum != 6 || !reflect.DeepEqual(loaded.State, cur.State) {
		t.Fatalf("loaded %+v at %d, appended %+v", loaded.State, loaded.Head.Version(), cur.State)
	}
	evs := readAll(t, f.store, stream, 1, 10)
	assertGapless(t, evs, 1, 3)
	ids := map[string]bool{}
	for i, e := range evs {
		if e.ID == "" || ids[e.ID] || e.ID != recorded[i].ID {
			t.Errorf("event %d id %q: want unique and as recorded (%q)", i, e.ID, recorded[i].ID)
		}
		ids[e.ID] = true
		if e.Metadata != meta || e.Stream != stream || e.Type != "Added" || e.SchemaVersion != 1 {
			t.Errorf("event %d = %+v, metadata or identity lost", i, e)
		}
		if e.RecordedAt.IsZero() || e.OccurredAt.IsZero() || !e.RecordedAt.Equal(recorded[i].RecordedAt) {
			t.Errorf("event %d times: occurred %v recorded %v (appended %v)", i, e.OccurredAt, e.RecordedAt, recorded[i].RecordedAt)
		}
	}
}

func testMissingStream(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	stream := newStream(t)
	if _, err := f.agg.Load(ctx(t), stream); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("load of a missing stream: %v, want ErrNotFound", err)
	}
	if _, err := f.store.Read(ctx(t), stream, 1, 10); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("read of a missing stream: %v, want ErrNotFound", err)
	}
	if _, err := f.agg.At(ctx(t), stream, 1); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("state at 1 of a missing stream: %v, want ErrNotFound", err)
	}
}

func testRacingAppends(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	stream := newStream(t)
	mustAppend(t, f, fresh(stream), 0)

	const writers, appends = 16, 50
	var (
		mu       sync.Mutex
		accepted = map[int64]bool{}
		wg       sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range appends {
				n := int64(1 + w*appends + i) // unique per attempt
				cur, err := f.agg.Load(ctx(t), stream)
				if err != nil {
					t.Errorf("load: %v", err)
					return
				}
				_, _, err = f.agg.Append(ctx(t), cur, events(n), eventstore.Metadata{}, nil)
				switch {
				case err == nil:
					mu.Lock()
					accepted[n] = true
					mu.Unlock()
				case errors.Is(err, eventstore.ErrConflict):
					var ce *eventstore.ConflictError
					if !errors.As(err, &ce) || ce.Stream != stream {
						t.Errorf("conflict without its stream: %v", err)
					}
				default:
					t.Errorf("append %d: %v, want success or conflict", n, err)
				}
			}
		})
	}
	wg.Wait()
	evs := readAll(t, f.store, stream, 1, 100)
	assertGapless(t, evs, 1, int64(len(accepted))+1)
	seen := map[int64]bool{}
	for _, e := range evs[1:] {
		var a added
		if err := json.Unmarshal(e.Data, &a); err != nil {
			t.Fatal(err)
		}
		if seen[a.N] || !accepted[a.N] {
			t.Fatalf("event %d (n=%d): duplicate=%v accepted=%v", e.Version, a.N, seen[a.N], accepted[a.N])
		}
		seen[a.N] = true
	}
	if len(seen) != len(accepted) {
		t.Fatalf("%d accepted appends, %d in the stream", len(accepted), len(seen))
	}
	if len(accepted) < appends {
		t.Errorf("only %d of %d appends accepted: writers starve", len(accepted), writers*appends)
	}
}

func testStaleWriter(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	stream := newStream(t)
	first := mustAppend(t, f, fresh(stream), 1, 2)
	stale, err := f.agg.Load(ctx(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, f, first, 3)
	for name, cur := range map[string]eventstore.Current[tally]{"stale load": stale, "earlier append": first, "new stream": fresh(stream)} {
		_, _, err := f.agg.Append(ctx(t), cur, events(99), eventstore.Metadata{}, nil)
		var ce *eventstore.ConflictError
		if !errors.As(err, &ce) {
			t.Errorf("append at the head of %s: %v, want a conflict", name, err)
		}
	}
	evs := readAll(t, f.store, stream, 1, 10)
	assertGapless(t, evs, 1, 3)

	// A state rebuilt at a past version carries no head: Past has no field
	// an Append could take, so it cannot be passed on.
	past := reflect.TypeOf(eventstore.Past[tally]{})
	for i := range past.NumField() {
		if past.Field(i).Type == reflect.TypeOf(eventstore.Head{}) {
			t.Errorf("Past has a Head field %s: a past state could be appended to", past.Field(i).Name)
		}
	}
}

func testUnobservedHead(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	_, err := f.store.Append(ctx(t), eventstore.Head{}, events(1), eventstore.Metadata{}, nil)
	if !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("append at a zero head: %v, want ErrInvalid", err)
	}
	_, err = f.store.Append(ctx(t), eventstore.NewStream(newStream(t)), nil, eventstore.Metadata{}, nil)
	if !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("empty commit: %v, want ErrInvalid", err)
	}
	bad := []eventstore.NewEvent{{Type: "Added", SchemaVersion: 1, Data: json.RawMessage(`{"n":`)}}
	_, err = f.store.Append(ctx(t), eventstore.NewStream(newStream(t)), bad, eventstore.Metadata{}, nil)
	if !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("event with broken JSON: %v, want ErrInvalid", err)
	}
}

func testRecordedAtMonotonic(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	stream := newStream(t)
	cur := mustAppend(t, f, fresh(stream), 1)
	first := cur.Head.RecordedAt()
	f.clock.set(first.Add(-time.Hour)) // this writer's clock is behind
	cur = mustAppend(t, f, cur, 2)
	evs := readAll(t, f.store, stream, 1, 10)
	if evs[1].RecordedAt.Before(evs[0].RecordedAt) {
		t.Fatalf("recordedAt went backwards: %v then %v", evs[0].RecordedAt, evs[1].RecordedAt)
	}
	if !evs[1].RecordedAt.Equal(first) {
		t.Errorf("recordedAt = %v, want the previous one %v", evs[1].RecordedAt, first)
	}
}

func testGuard(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	stream := newStream(t)
	cur := mustAppend(t, f, fresh(stream), 1)
	guard := &eventstore.Guard{Tenant: stream.Tenant, CommandID: "cmd-" + stream.ID, Outcome: []byte(`{"version":2}`)}

	m := &eventstore.Meter{}
	_, _, err := f.agg.Append(eventstore.WithMeter(ctx(t), m), cur, events(10), eventstore.Metadata{CommandID: guard.CommandID}, guard)
	if err != nil {
		t.Fatal(err)
	}
	if u := m.Usage(); u.Total() != 1 || u.Requests["TransactWriteItems"] != 1 {
		t.Errorf("a guarded append cost %v, want one TransactWriteItems", u.Requests)
	}

	// The response was lost; the caller reloads and runs the command again.
	reloaded, err := f.agg.Load(ctx(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	again := *guard
	again.Outcome = []byte(`{"version":3}`)
	_, _, err = f.agg.Append(ctx(t), reloaded, events(10), eventstore.Metadata{CommandID: guard.CommandID}, &again)
	var aa *eventstore.AlreadyAppliedError
	if !errors.As(err, &aa) {
		t.Fatalf("repeat of a guarded command: %v, want AlreadyAppliedError", err)
	}
	if string(aa.Outcome) != `{"version":2}` || aa.Stream != stream || aa.Version != 2 {
		t.Errorf("recorded outcome %s at %s %d, want the first one", aa.Outcome, aa.Stream, aa.Version)
	}
	// A stale head and a repeat: the guard still wins over the conflict.
	_, _, err = f.agg.Append(ctx(t), cur, events(10), eventstore.Metadata{}, &again)
	if !errors.Is(err, eventstore.ErrAlreadyApplied) {
		t.Errorf("repeat at a stale head: %v, want ErrAlreadyApplied", err)
	}
	if err := f.store.CheckGuard(ctx(t), stream.Tenant, guard.CommandID); !errors.As(err, &aa) || string(aa.Outcome) != `{"version":2}` {
		t.Errorf("CheckGuard = %v, want the recorded outcome", err)
	}
	if err := f.store.CheckGuard(ctx(t), "tenant-b", guard.CommandID); err != nil {
		t.Errorf("another tenant's command with the same id: %v, want none", err)
	}
	evs := readAll(t, f.store, stream, 1, 10)
	assertGapless(t, evs, 1, 2)
}

func testRecordOutcome(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	stream := newStream(t)
	guard := eventstore.Guard{Tenant: stream.Tenant, CommandID: "key-" + stream.ID, Outcome: []byte(`refused`), Fingerprint: "fp-1", ExpiresAt: f.clock.Now().Add(time.Hour)}

	m := &eventstore.Meter{}
	if err := f.store.RecordOutcome(eventstore.WithMeter(ctx(t), m), guard); err != nil {
		t.Fatalf("record the outcome of a refused command: %v", err)
	}
	if u := m.Usage(); u.Total() != 1 || u.Requests["PutItem"] != 1 {
		t.Errorf("recording an outcome cost %v, want one PutItem", u.Requests)
	}
	// A repeat is given the first outcome and the first fingerprint,
	// whether it would now be refused again or would write a commit.
	again := guard
	again.Outcome, again.Fingerprint = []byte(`accepted`), "fp-2"
	var aa *eventstore.AlreadyAppliedError
	if err := f.store.RecordOutcome(ctx(t), again); !errors.As(err, &aa) {
		t.Fatalf("a second outcome for the same command: %v, want AlreadyAppliedError", err)
	}
	if string(aa.Outcome) != "refused" || aa.Fingerprint != "fp-1" || aa.Stream != (eventstore.StreamID{}) || aa.Version != 0 {
		t.Errorf("recorded %q (fingerprint %q) at %v %d, want the first outcome and no commit", aa.Outcome, aa.Fingerprint, aa.Stream, aa.Version)
	}
	_, _, err := f.agg.Append(ctx(t), fresh(stream), events(4), eventstore.Metadata{}, &again)
	if !errors.As(err, &aa) || string(aa.Outcome) != "refused" {
		t.Fatalf("a commit under a command that was refused: %v, want the refusal back", err)
	}
	if _, err := f.agg.Load(ctx(t), stream); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("load after a repeat of a refused command: %v, want nothing written", err)
	}

	// The other way round: a refusal after the commit is the commit's outcome.
	committed := eventstore.Guard{Tenant: stream.Tenant, CommandID: "key2-" + stream.ID, Outcome: []byte(`accepted`), Fingerprint: "fp-3", ExpiresAt: f.clock.Now().Add(time.Hour)}
	mustAppendGuarded(t, f, fresh(stream), &committed)
	refused := committed
	refused.Outcome = []byte(`refused`)
	if err := f.store.RecordOutcome(ctx(t), refused); !errors.As(err, &aa) || string(aa.Outcome) != "accepted" || aa.Stream != stream || aa.Version != 1 || aa.Fingerprint != "fp-3" {
		t.Errorf("a refusal after the command committed: %v, want the commit's outcome at version 1", err)
	}
}

func mustAppendGuarded(t *testing.T, f fixture, cur eventstore.Current[tally], g *eventstore.Guard) eventstore.Current[tally] {
	t.Helper()
	next, _, err := f.agg.Append(ctx(t), cur, events(1), eventstore.Metadata{}, g)
	if err != nil {
		t.Fatalf("guarded append at %d: %v", cur.Head.Version(), err)
	}
	return next
}

func testGuardExpiry(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	stream := newStream(t)
	start := f.clock.Now()
	guard := &eventstore.Guard{Tenant: stream.Tenant, CommandID: "key-" + stream.ID, Outcome: []byte(`first`), ExpiresAt: start.Add(time.Hour)}
	cur := mustAppendGuarded(t, f, fresh(stream), guard)

	f.clock.set(start.Add(time.Hour - time.Minute))
	if _, _, err := f.agg.Append(ctx(t), cur, events(1), eventstore.Metadata{}, guard); !errors.Is(err, eventstore.ErrAlreadyApplied) {
		t.Fatalf("a repeat a minute before the guard expires: %v, want ErrAlreadyApplied", err)
	}
	if err := f.store.CheckGuard(ctx(t), stream.Tenant, guard.CommandID); !errors.Is(err, eventstore.ErrAlreadyApplied) {
		t.Errorf("CheckGuard before expiry: %v, want the outcome", err)
	}

	// From its expiry on, the id names a new command.
	f.clock.set(start.Add(time.Hour))
	if err := f.store.CheckGuard(ctx(t), stream.Tenant, guard.CommandID); err != nil {
		t.Errorf("CheckGuard of an expired guard: %v, want none", err)
	}
	second := *guard
	second.Outcome, second.ExpiresAt = []byte(`second`), start.Add(3*time.Hour)
	cur = mustAppendGuarded(t, f, cur, &second)
	var aa *eventstore.AlreadyAppliedError
	if _, _, err := f.agg.Append(ctx(t), cur, events(1), eventstore.Metadata{}, &second); !errors.As(err, &aa) || string(aa.Outcome) != "second" || aa.Version != 2 {
		t.Errorf("a repeat of the new command: %v, want its own outcome at version 2", err)
	}
	// A guard without an expiry is kept forever.
	forever := &eventstore.Guard{Tenant: stream.Tenant, CommandID: "step-" + stream.ID}
	cur = mustAppendGuarded(t, f, cur, forever)
	f.clock.set(start.Add(100 * 365 * 24 * time.Hour))
	if _, _, err := f.agg.Append(ctx(t), cur, events(1), eventstore.Metadata{}, forever); !errors.Is(err, eventstore.ErrAlreadyApplied) {
		t.Errorf("a repeat of a guard without expiry a century later: %v, want ErrAlreadyApplied", err)
	}
	assertGapless(t, readAll(t, f.store, stream, 1, 10), 1, 3)
}

// flaky loses the answer of a write: it forwards the first write it is
// given (or not, with drop), then reports an unknown outcome, as a timeout
// or a 5xx after the server applied the request would.
type flaky struct {
	eventstore.Backend
	mu       sync.Mutex
	failures int
	drop     bool
	writes   int
	before   func() // runs before a dropped write is reported
}

func (f *flaky) Write(ctx context.Context, w []eventstore.Write, token string) error {
	f.mu.Lock()
	f.writes++
	fail := f.failures > 0
	if fail {
		f.failures--
	}
	f.mu.Unlock()
	if !fail {
		return f.Backend.Write(ctx, w, token)
	}
	if !f.drop {
		if err := f.Backend.Write(ctx, w, token); err != nil {
			return err
		}
	}
	if f.before != nil {
		f.before()
	}
	return fmt.Errorf("connection reset: %w", eventstore.ErrUnknownOutcome)
}

func testUnknownOutcome(t *testing.T, nb NewBackend) {
	for _, guarded := range []bool{false, true} {
		t.Run(fmt.Sprintf("guarded=%v", guarded), func(t *testing.T) {
			fl := &flaky{Backend: nb(t), failures: 1}
			store := newStore(t, fl, quiet)
			agg := eventstore.NewAggregate(store, tallyFold(1))
			stream := newStream(t)
			var guard *eventstore.Guard
			if guarded {
				guard = &eventstore.Guard{Tenant: stream.Tenant, CommandID: "c-" + stream.ID}
			}
			cur, _, err := agg.Append(ctx(t), fresh(stream), events(5), eventstore.Metadata{}, guard)
			if err != nil {
				t.Fatalf("append whose first answers were lost: %v, want success", err)
			}
			if fl.writes != 2 {
				t.Errorf("%d writes sent, want 2 (a lost answer, then a definite one)", fl.writes)
			}
			loaded, err := agg.Load(ctx(t), stream)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.Head.Version() != 1 || loaded.State.Sum != 5 || cur.Head.Version() != 1 {
				t.Errorf("after a resent append: head %d sum %d, want 1 and 5", loaded.Head.Version(), loaded.State.Sum)
			}
		})
	}
}

func testUnknownOutcomeThenConflict(t *testing.T, nb NewBackend) {
	backend := nb(t)
	stream := newStream(t)
	other := eventstore.NewAggregate(newStore(t, backend), tallyFold(1))
	fl := &flaky{Backend: backend, failures: 1, drop: true, before: func() {
		// While our answer is lost, someone else takes the version.
		if _, _, err := other.Append(context.Background(), fresh(stream), events(7), eventstore.Metadata{}, nil); err != nil {
			t.Errorf("other writer: %v", err)
		}
	}}
	agg := eventstore.NewAggregate(newStore(t, fl), tallyFold(1))
	_, _, err := agg.Append(ctx(t), fresh(stream), events(5), eventstore.Metadata{}, nil)
	if !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("resend onto another writer's commit: %v, want a conflict", err)
	}
	loaded, err := agg.Load(ctx(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.State.Sum != 7 || loaded.Head.Version() != 1 {
		t.Errorf("stream holds sum %d at %d, want only the other writer's 7 at 1", loaded.State.Sum, loaded.Head.Version())
	}
}

func testAppendAll(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	a, b := newStream(t), newStream(t)
	curA := mustAppend(t, f, fresh(a), 1)
	staleB := mustAppend(t, f, fresh(b), 1)
	mustAppend(t, f, staleB, 1)

	_, err := f.store.AppendAll(ctx(t), []eventstore.Pending{
		{Head: curA.Head, Events: events(-1)},
		{Head: staleB.Head, Events: events(1)},
	}, nil)
	if !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("append all with one stale head: %v, want a conflict", err)
	}
	if got := readAll(t, f.store, a, 1, 10); len(got) != 1 {
		t.Fatalf("stream a has %d events after a failed append all, want 1", len(got))
	}

	curB, err := f.agg.Load(ctx(t), b)
	if err != nil {
		t.Fatal(err)
	}
	m := &eventstore.Meter{}
	out, err := f.store.AppendAll(eventstore.WithMeter(ctx(t), m), []eventstore.Pending{
		{Head: curA.Head, Events: events(-1)},
		{Head: curB.Head, Events: events(1)},
	}, &eventstore.Guard{Tenant: a.Tenant, CommandID: "step-" + a.ID})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Head.Version() != 2 || out[1].Head.Version() != 3 {
		t.Errorf("heads after append all: %d and %d, want 2 and 3", out[0].Head.Version(), out[1].Head.Version())
	}
	if u := m.Usage(); u.Total() != 1 || u.Requests["TransactWriteItems"] != 1 {
		t.Errorf("append all cost %v, want one TransactWriteItems", u.Requests)
	}
	_, err = f.store.AppendAll(ctx(t), []eventstore.Pending{{Head: curA.Head, Events: events(1)}, {Head: curA.Head, Events: events(1)}}, nil)
	if !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("two commits on one stream in one append: %v, want ErrInvalid", err)
	}
}

func testSizeLimit(t *testing.T, nb NewBackend) {
	fixed := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	store := newStore(t, nb(t), eventstore.WithClock(func() time.Time { return fixed }))
	stream := newStream(t)
	withPad := func(n int) eventstore.Pending {
		data := fmt.Sprintf(`{"n":1,"pad":"%s"}`, strings.Repeat("x", n))
		return eventstore.Pending{Head: eventstore.NewStream(stream), Events: []eventstore.NewEvent{
			{Type: "Added", SchemaVersion: 1, OccurredAt: fixed, Data: json.RawMessage(data)},
		}}
	}
	base, err := store.CommitSize(withPad(0))
	if err != nil {
		t.Fatal(err)
	}
	over := withPad(eventstore.MaxItemSize + 1 - base)
	if size, _ := store.CommitSize(over); size != eventstore.MaxItemSize+1 {
		t.Fatalf("test commit is %d bytes, want %d", size, eventstore.MaxItemSize+1)
	}
	_, err = store.Append(ctx(t), over.Head, over.Events, over.Meta, nil)
	var tl *eventstore.TooLargeError
	if !errors.As(err, &tl) || tl.Size != eventstore.MaxItemSize+1 || tl.Limit != eventstore.MaxItemSize {
		t.Fatalf("append of %d bytes: %v, want TooLargeError", eventstore.MaxItemSize+1, err)
	}
	if _, err := store.Read(ctx(t), stream, 1, 1); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("after a refused commit the stream exists: %v", err)
	}
	under := withPad(eventstore.MaxItemSize - base)
	if _, err := store.Append(ctx(t), under.Head, under.Events, under.Meta, nil); err != nil {
		t.Fatalf("append of exactly %d bytes: %v", eventstore.MaxItemSize, err)
	}
	if got := readAll(t, store, stream, 1, 1); len(got) != 1 || len(got[0].Data) != len(under.Events[0].Data) {
		t.Fatalf("the %d-byte commit did not read back whole", eventstore.MaxItemSize)
	}
}

func testReadMidCommit(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	stream := newStream(t)
	pad := strings.Repeat("y", 12_000)
	cur := fresh(stream)
	var all []eventstore.Event
	for c := range 20 { // 20 commits of 5 events of ~12 KB: over 1 MB
		evs := make([]eventstore.NewEvent, 5)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "Added", SchemaVersion: 1,
				Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":%q}`, c*5+i, pad))}
		}
		var recorded []eventstore.Event
		var err error
		cur, recorded, err = f.agg.Append(ctx(t), cur, evs, eventstore.Metadata{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, recorded...)
	}
	for _, tc := range []struct {
		from  int64
		limit int
	}{{1, 100}, {7, 100}, {7, 3}, {10, 4}, {11, 5}, {98, 7}, {100, 1}} {
		got := readAll(t, f.store, stream, tc.from, tc.limit)
		assertGapless(t, got, tc.from, 100)
		for i, e := range got {
			if w := all[tc.from-1+int64(i)]; e.ID != w.ID || string(e.Data) != string(w.Data) {
				t.Fatalf("from %d limit %d: event %d differs from what was appended", tc.from, tc.limit, e.Version)
			}
		}
	}
	p, err := f.store.Read(ctx(t), stream, 101, 10)
	if err != nil || len(p.Events) != 0 || p.Next != 0 {
		t.Errorf("read beyond the head: %d events, next %d, err %v; want an empty last page", len(p.Events), p.Next, err)
	}
}

func testTimeTravel(t *testing.T, nb NewBackend) {
	f := setup(t, nb, eventstore.WithSnapshotEvery(4))
	stream := newStream(t)
	all := appendCommits(t, f, stream, 12)
	head := int64(len(all))
	for v := int64(1); v <= head; v++ {
		past, err := f.agg.At(ctx(t), stream, v)
		if err != nil {
			t.Fatalf("state at %d: %v", v, err)
		}
		if want := fold(1, all[:v]); past.Version != v || !reflect.DeepEqual(past.State, want) {
			t.Fatalf("state at %d = %+v (version %d), want %+v", v, past.State, past.Version, want)
		}
	}
	if _, err := f.agg.At(ctx(t), stream, head+1); !errors.Is(err, eventstore.ErrVersionNotFound) {
		t.Errorf("state beyond the head: %v, want ErrVersionNotFound", err)
	}
	for i, e := range all {
		for _, at := range []time.Time{e.RecordedAt, e.RecordedAt.Add(500 * time.Millisecond)} {
			past, err := f.agg.AsOf(ctx(t), stream, at)
			if err != nil {
				t.Fatalf("state as of %v: %v", at, err)
			}
			n := i
			for n < len(all) && !all[n].RecordedAt.After(at) {
				n++
			}
			if want := fold(1, all[:n]); !reflect.DeepEqual(past.State, want) || past.Version != int64(n) {
				t.Fatalf("state as of %v = %+v at %d, want %+v at %d", at, past.State, past.Version, want, n)
			}
		}
	}
	if _, err := f.agg.AsOf(ctx(t), stream, all[0].RecordedAt.Add(-time.Nanosecond)); !errors.Is(err, eventstore.ErrVersionNotFound) {
		t.Errorf("state before the first event: %v, want ErrVersionNotFound", err)
	}
	// The zero time is a time too, long before any stream.
	if _, err := f.agg.AsOf(ctx(t), stream, time.Time{}); !errors.Is(err, eventstore.ErrVersionNotFound) {
		t.Errorf("as of the zero time: %v, want ErrVersionNotFound", err)
	}
	future, err := f.agg.AsOf(ctx(t), stream, all[len(all)-1].RecordedAt.Add(24*time.Hour))
	if err != nil || future.Version != head {
		t.Errorf("state in the future: version %d err %v, want the head %d", future.Version, err, head)
	}
}

// Streams that only ever move in AppendAll commits get their snapshots
// through Advance, so their loads stay bounded as well: one item when the
// aggregate built the commits (they keep the state), else the head, the
// latest snapshot and the commits after it.
func testAdvanceSnapshots(t *testing.T, nb NewBackend) {
	const k = 10
	cb := &counting{Backend: nb(t)}
	f := setupOn(t, cb, eventstore.WithSnapshotEvery(k))
	a, b, c := newStream(t), newStream(t), newStream(t)
	curA, curB, curC := fresh(a), fresh(b), fresh(c)
	var allA, allC []eventstore.Event
	for i := range 35 {
		out, err := f.store.AppendAll(ctx(t), []eventstore.Pending{
			{Head: curA.Head, Events: events(int64(i))},
			{Head: curB.Head, Events: events(1, 2)},
			f.agg.Pending(curC, events(int64(i)), eventstore.Metadata{}),
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		allA = append(allA, out[0].Events...)
		allC = append(allC, out[2].Events...)
		if curA, err = f.agg.Advance(ctx(t), curA, out[0]); err != nil {
			t.Fatal(err)
		}
		if curB, err = f.agg.Advance(ctx(t), curB, out[1]); err != nil {
			t.Fatal(err)
		}
		if curC, err = f.agg.Advance(ctx(t), curC, out[2]); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(curA.State, fold(1, allA)) || curA.Head.Version() != 35 || curB.Head.Version() != 70 ||
		!reflect.DeepEqual(curC.State, fold(1, allC)) || curC.Head.Version() != 35 {
		t.Fatalf("advanced to %+v at %d, %d and %d", curA.State, curA.Head.Version(), curB.Head.Version(), curC.Head.Version())
	}
	for _, tc := range []struct {
		stream         eventstore.StreamID
		want           eventstore.Current[tally]
		queries, items int
	}{
		// The head, the snapshot at 30, the commits 31..35.
		{a, curA, 3, 1 + 1 + 5},
		// The head, the snapshot at 70: the head reaches back to it.
		{b, curB, 2, 1 + 1},
		// The head, which keeps the state.
		{c, curC, 1, 1},
	} {
		m := &eventstore.Meter{}
		cb.reset()
		loaded, err := f.agg.Load(eventstore.WithMeter(ctx(t), m), tc.stream)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(loaded.State, tc.want.State) || loaded.Head.Version() != tc.want.Head.Version() {
			t.Errorf("%s loaded %+v at %d, want %+v at %d", tc.stream, loaded.State, loaded.Head.Version(), tc.want.State, tc.want.Head.Version())
		}
		if q, items := cb.reset(); q != tc.queries || items != tc.items || m.Usage().Total() != tc.queries {
			t.Errorf("%s: a load cost %v and read %d items in %d Queries, want %d items in %d", tc.stream, m.Usage().Requests, items, q, tc.items, tc.queries)
		}
	}
	// A commit of another stream, or one that does not follow the head, is
	// refused rather than folded into a state no load would give.
	last, err := f.store.AppendAll(ctx(t), []eventstore.Pending{{Head: curB.Head, Events: events(3)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.agg.Advance(ctx(t), curA, last[0]); err == nil {
		t.Error("advanced one stream by another's commit")
	}
	if _, err := f.agg.Advance(ctx(t), fresh(b), last[0]); err == nil {
		t.Error("advanced a stream by a commit that does not follow its head")
	}
}

func testSnapshotLoad(t *testing.T, nb NewBackend) {
	const k = 10
	f := setup(t, nb, eventstore.WithSnapshotEvery(k))
	stream := newStream(t)
	cur := fresh(stream)
	var all []eventstore.Event
	for c := range 40 {
		var rec []eventstore.Event
		var err error
		cur, rec, err = f.agg.Append(ctx(t), cur, events(int64(c), int64(c)), eventstore.Metadata{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rec...)
	}
	m := &eventstore.Meter{}
	loaded, err := f.agg.Load(eventstore.WithMeter(ctx(t), m), stream)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.State, fold(1, all)) || loaded.Head.Version() != int64(len(all)) {
		t.Fatalf("loaded %+v at %d, want the fold of %d events", loaded.State, loaded.Head.Version(), len(all))
	}
	if u := m.Usage(); u.Total() != 1 || u.Requests["Query"] != 1 {
		t.Errorf("a load with snapshots cost %v, want one Query", u.Requests)
	}
	// The head from a snapshot-based load is a real head.
	if _, _, err := f.agg.Append(ctx(t), loaded, events(1), eventstore.Metadata{}, nil); err != nil {
		t.Errorf("append after a snapshot load: %v", err)
	}
}

// brittle's snapshots never decode, as after an incompatible change of the
// state's encoding that forgot to bump StateSchema.
type brittle struct{ tally }

func (b *brittle) UnmarshalJSON([]byte) error { return errors.New("state encoding changed") }

func testSnapshotFallback(t *testing.T, nb NewBackend) {
	backend := nb(t)
	store := newStore(t, backend, eventstore.WithSnapshotEvery(3), quiet)
	tf := tallyFold(1)
	agg := eventstore.NewAggregate(store, eventstore.Fold[brittle]{
		Name: tf.Name, LogicVersion: tf.LogicVersion, StateSchema: tf.StateSchema,
		Evolve: func(s brittle, e eventstore.Event) (brittle, error) {
			var err error
			s.tally, err = tf.Evolve(s.tally, e)
			return s, err
		},
	})
	stream := newStream(t)
	cur := eventstore.Current[brittle]{Head: eventstore.NewStream(stream)}
	var all []eventstore.Event
	for i := range 10 {
		var rec []eventstore.Event
		var err error
		if cur, rec, err = agg.Append(ctx(t), cur, events(int64(i)), eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, rec...)
	}
	loaded, err := agg.Load(ctx(t), stream)
	if err != nil {
		t.Fatalf("load with unreadable snapshots: %v, want a full replay", err)
	}
	if !reflect.DeepEqual(loaded.State.tally, fold(1, all)) || loaded.Head.Version() != 10 {
		t.Fatalf("replayed %+v at %d, want the fold of all 10 events", loaded.State.tally, loaded.Head.Version())
	}
	past, err := agg.At(ctx(t), stream, 7)
	if err != nil || !reflect.DeepEqual(past.State.tally, fold(1, all[:7])) {
		t.Fatalf("state at 7 with unreadable snapshots: %+v, %v", past.State.tally, err)
	}
}

func testLogicVersion(t *testing.T, nb NewBackend) {
	f := setup(t, nb, eventstore.WithSnapshotEvery(2))
	stream := newStream(t)
	cur := fresh(stream)
	var all []eventstore.Event
	for i := range 9 {
		var rec []eventstore.Event
		var err error
		if cur, rec, err = f.agg.Append(ctx(t), cur, events(int64(i+1)), eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, rec...)
	}
	v2 := eventstore.NewAggregate(f.store, tallyFold(2))
	loaded, err := v2.Load(ctx(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	if want := fold(2, all); !reflect.DeepEqual(loaded.State, want) {
		t.Fatalf("fold v2 loaded %+v, want %+v: a v1 snapshot was trusted", loaded.State, want)
	}
	// Version 2 writes its own snapshots; version 1 still loads correctly.
	next, _, err := v2.Append(ctx(t), loaded, events(1, 1), eventstore.Metadata{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, readAll(t, f.store, stream, 10, 10)...)
	if v1, err := f.agg.Load(ctx(t), stream); err != nil || !reflect.DeepEqual(v1.State, fold(1, all)) {
		t.Fatalf("fold v1 after v2 snapshots: %+v %v, want %+v", v1.State, err, fold(1, all))
	}
	if again, err := v2.Load(ctx(t), stream); err != nil || !reflect.DeepEqual(again.State, next.State) {
		t.Fatalf("fold v2 reload: %+v %v, want %+v", again.State, err, next.State)
	}
}

func testTenants(t *testing.T, nb NewBackend) {
	f := setup(t, nb)
	a := newStream(t)
	b := a
	b.Tenant = "tenant-b"
	mustAppend(t, f, fresh(a), 1)
	if _, err := f.agg.Load(ctx(t), b); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("another tenant's stream with the same id: %v, want ErrNotFound", err)
	}
	mustAppend(t, f, fresh(b), 2)
	la, _ := f.agg.Load(ctx(t), a)
	lb, _ := f.agg.Load(ctx(t), b)
	if la.State.Sum != 1 || lb.State.Sum != 2 {
		t.Errorf("tenants share state: a=%d b=%d", la.State.Sum, lb.State.Sum)
	}
}

// appendCommits appends n commits of one to three events to a new stream
// through the fixture's aggregate, and returns the events as recorded.
func appendCommits(t *testing.T, f fixture, stream eventstore.StreamID, n int) []eventstore.Event {
	t.Helper()
	cur := fresh(stream)
	var all []eventstore.Event
	for c := range n {
		ns := make([]int64, 1+c%3)
		for i := range ns {
			ns[i] = int64(c*10 + i)
		}
		var rec []eventstore.Event
		var err error
		if cur, rec, err = f.agg.Append(ctx(t), cur, events(ns...), eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, rec...)
	}
	return all
}
