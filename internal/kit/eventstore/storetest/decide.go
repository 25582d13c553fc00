package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"annals/internal/kit/eventstore"
)

// The contract's cases for Aggregate.Decide with a cache of states: a
// stream an instance has seen costs one conditional write, and a stale
// cache costs a retry, never a decision on a state the stream was not at.

// decided is an event that records what its command saw when deciding.
type decided struct {
	N    int64 `json:"n"`
	Seen int64 `json:"seen"` // the head version the command decided on
	Sum  int64 `json:"sum"`  // the state's sum it decided on
}

func decidedEvent(n int64, cur eventstore.Current[tally]) eventstore.NewEvent {
	data, _ := json.Marshal(decided{N: n, Seen: cur.Head.Version(), Sum: cur.State.Sum})
	return eventstore.NewEvent{Type: "Added", SchemaVersion: 1, Data: data}
}

// instance is one function instance: a store with a cache of its own.
func instance(t *testing.T, b eventstore.Backend) *eventstore.Aggregate[tally] {
	store := eventstore.New(b, eventstore.WithCache(eventstore.NewCache(1<<20)), eventstore.WithSnapshotEvery(4), quiet)
	return eventstore.NewAggregate(store, tallyFold(1))
}

func add(n int64) func(eventstore.Current[tally]) (eventstore.Decision, error) {
	return func(cur eventstore.Current[tally]) (eventstore.Decision, error) {
		return eventstore.Decision{Events: []eventstore.NewEvent{decidedEvent(n, cur)}}, nil
	}
}

func testDecideWarm(t *testing.T, nb NewBackend) {
	cb := &counting{Backend: nb(t)}
	writer, reader := instance(t, cb), instance(t, cb)
	stream := newStream(t)
	if _, _, err := writer.Append(ctx(t), fresh(stream), events(1, 2), eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	// The reader has not seen the stream: a load, then the write.
	m := &eventstore.Meter{}
	cur, _, err := reader.Decide(eventstore.WithMeter(ctx(t), m), stream, add(4))
	if err != nil {
		t.Fatal(err)
	}
	if u := m.Usage(); u.Requests["Query"] != 1 || u.Requests["PutItem"] != 1 || u.Total() != 2 {
		t.Errorf("a cold command cost %v, want one Query and one PutItem", u.Requests)
	}
	// Now it has: the write alone, no read.
	for i := range 6 {
		m := &eventstore.Meter{}
		cb.reset()
		next, evs, err := reader.Decide(eventstore.WithMeter(ctx(t), m), stream, add(int64(5+i)))
		if err != nil {
			t.Fatal(err)
		}
		if next.Head.Version() != cur.Head.Version()+1 || next.State.Sum != cur.State.Sum+int64(5+i) || len(evs) != 1 {
			t.Fatalf("warm command: %+v at %d after %+v at %d", next.State, next.Head.Version(), cur.State, cur.Head.Version())
		}
		cur = next
		u := m.Usage()
		if q, _ := cb.reset(); q != 0 || u.ReadUnits != 0 || u.Total()-u.Requests["PutItem"] != 0 {
			t.Errorf("warm command %d cost %v and %v read units, want PutItems alone", i, u.Requests, u.ReadUnits)
		}
		// A snapshot is a second PutItem, every K = 4 events.
		want := 1
		if cur.Head.Version()%4 == 0 {
			want = 2
		}
		if u.Requests["PutItem"] != want {
			t.Errorf("warm command to version %d sent %d PutItems, want %d", cur.Head.Version(), u.Requests["PutItem"], want)
		}
	}
	loaded, err := writer.Load(ctx(t), stream)
	if err != nil || loaded.Head.Version() != cur.Head.Version() || loaded.State.Sum != cur.State.Sum {
		t.Fatalf("the stream holds %+v at %d (%v), the warm commands left %+v at %d", loaded.State, loaded.Head.Version(), err, cur.State, cur.Head.Version())
	}
	// Keyed by tenant: another tenant's stream of the same id is not the
	// one seen.
	other := stream
	other.Tenant = "tenant-b"
	if _, _, err := reader.Decide(ctx(t), other, add(1)); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("a command on another tenant's stream of the same id: %v, want ErrNotFound", err)
	}

	// Bounded in bytes: the least recently used go first.
	c := eventstore.NewCache(2_000)
	small := eventstore.NewAggregate(eventstore.New(cb, eventstore.WithCache(c), quiet), tallyFold(1))
	for range 20 {
		if _, _, err := small.Append(ctx(t), fresh(newStream(t)), events(1), eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
		if c.Bytes() > 2_000 {
			t.Fatalf("the cache holds %d bytes, over its bound of 2,000", c.Bytes())
		}
	}
	if c.Len() == 0 || c.Len() >= 20 {
		t.Errorf("a cache of 2,000 bytes holds %d of 20 streams", c.Len())
	}
}

func testDecideStale(t *testing.T, nb NewBackend) {
	b := nb(t)
	a, stale := instance(t, b), instance(t, b)
	stream := newStream(t)
	if _, _, err := a.Append(ctx(t), fresh(stream), events(1), eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Load(ctx(t), stream); err != nil { // stale has seen version 1
		t.Fatal(err)
	}
	if _, _, err := a.Decide(ctx(t), stream, add(10)); err != nil { // version 2
		t.Fatal(err)
	}

	// A write decided on the cached state (version 1) fails its condition;
	// the command is decided again on the stream as it is.
	var seen []int64
	m := &eventstore.Meter{}
	cur, _, err := stale.Decide(eventstore.WithMeter(ctx(t), m), stream, func(cur eventstore.Current[tally]) (eventstore.Decision, error) {
		seen = append(seen, cur.Head.Version())
		return add(100)(cur)
	})
	if err != nil {
		t.Fatalf("a command on a stale cache: %v, want it decided again", err)
	}
	if fmt.Sprint(seen) != "[1 2]" || cur.Head.Version() != 3 || cur.State.Sum != 111 {
		t.Errorf("decided on versions %v, left sum %d at %d; want [1 2], 111 at 3", seen, cur.State.Sum, cur.Head.Version())
	}
	// The refused write returned the commit that took its place, which
	// keeps the state after it: no read.
	if u := m.Usage(); u.Requests["PutItem"] != 2 || u.Total() != 2 {
		t.Errorf("a stale cache cost %v, want the refused PutItem and the PutItem", u.Requests)
	}

	// A commit that took the place without keeping a state: a load.
	if _, err := stale.Load(ctx(t), stream); err != nil { // stale has seen version 3
		t.Fatal(err)
	}
	if _, err := a.Store().Append(ctx(t), cur.Head, events(7), eventstore.Metadata{}, nil); err != nil { // version 4, no state
		t.Fatal(err)
	}
	seen = nil
	m = &eventstore.Meter{}
	cur, _, err = stale.Decide(eventstore.WithMeter(ctx(t), m), stream, func(cur eventstore.Current[tally]) (eventstore.Decision, error) {
		seen = append(seen, cur.Head.Version())
		return add(1)(cur)
	})
	if err != nil || fmt.Sprint(seen) != "[3 4]" || cur.Head.Version() != 5 || cur.State.Sum != 119 {
		t.Errorf("after a commit without a state: %v, decided on %v, sum %d at %d; want [3 4], 119 at 5", err, seen, cur.State.Sum, cur.Head.Version())
	}
	// The load is three Queries: the head keeps no state.
	if u := m.Usage(); u.Requests["PutItem"] != 2 || u.Requests["Query"] != 3 || u.Total() != 5 {
		t.Errorf("a stale cache behind a commit without a state cost %v, want the refused PutItem, a load and the PutItem", u.Requests)
	}

	// A decision that writes nothing is never taken on a cached state.
	if _, err := stale.Load(ctx(t), stream); err != nil { // stale has seen version 5
		t.Fatal(err)
	}
	if _, _, err := a.Decide(ctx(t), stream, add(1000)); err != nil { // version 6
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	seen = nil
	cur, evs, err := stale.Decide(ctx(t), stream, func(cur eventstore.Current[tally]) (eventstore.Decision, error) {
		seen = append(seen, cur.Head.Version())
		if cur.State.Sum < 1000 {
			return eventstore.Decision{}, refuse // what the stale state says
		}
		return eventstore.Decision{}, nil // nothing to do, on the state as it is
	})
	if err != nil || len(evs) != 0 || fmt.Sprint(seen) != "[5 6]" || cur.Head.Version() != 6 {
		t.Errorf("a refusal on the cached state: %v, decided on %v, at %d; want it decided again on version 6, without error", err, seen, cur.Head.Version())
	}
	seen = nil
	if _, _, err := stale.Decide(ctx(t), stream, func(cur eventstore.Current[tally]) (eventstore.Decision, error) {
		seen = append(seen, cur.Head.Version())
		return eventstore.Decision{}, refuse
	}); !errors.Is(err, refuse) || fmt.Sprint(seen) != "[6 6]" {
		t.Errorf("a refusal on a fresh cache: %v, decided on %v; want it refused after a load", err, seen)
	}
}

// Instances whose caches go stale all the time race on one stream; every
// command the stream accepted was decided on exactly the state it was
// appended after.
func testDecideRace(t *testing.T, nb NewBackend) {
	b := nb(t)
	stream := newStream(t)
	if _, _, err := instance(t, b).Append(ctx(t), fresh(stream), events(0), eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	const instances, commands = 6, 20
	var (
		mu       sync.Mutex
		accepted = map[int64]bool{}
		wg       sync.WaitGroup
	)
	for i := range instances {
		agg := instance(t, b)
		if _, err := agg.Load(ctx(t), stream); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for j := range commands {
				n := int64(1 + i*commands + j)
				_, _, err := agg.Decide(ctx(t), stream, add(n))
				switch {
				case err == nil:
					mu.Lock()
					accepted[n] = true
					mu.Unlock()
				case errors.Is(err, eventstore.ErrConflict):
					// Lost the race on a fresh load too: not accepted.
				default:
					t.Errorf("command %d: %v", n, err)
				}
			}
		})
	}
	wg.Wait()
	evs := readAll(t, newStore(t, b), stream, 1, 100)
	assertGapless(t, evs, 1, int64(len(accepted))+1)
	sum := int64(0)
	for _, e := range evs[1:] {
		var d decided
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		if !accepted[d.N] {
			t.Fatalf("event %d (n=%d) is no accepted command", e.Version, d.N)
		}
		if d.Seen != e.Version-1 || d.Sum != sum {
			t.Fatalf("event %d was decided on version %d with sum %d; it follows version %d with sum %d", e.Version, d.Seen, d.Sum, e.Version-1, sum)
		}
		sum += d.N
	}
	if len(accepted) < commands {
		t.Errorf("only %d of %d commands accepted: instances starve", len(accepted), instances*commands)
	}
}

// guarded is add under a guard.
func guarded(n int64, g *eventstore.Guard) func(eventstore.Current[tally]) (eventstore.Decision, error) {
	return func(cur eventstore.Current[tally]) (eventstore.Decision, error) {
		return eventstore.Decision{Events: []eventstore.NewEvent{decidedEvent(n, cur)}, Guard: g}, nil
	}
}

func testDecideGuardedWarm(t *testing.T, nb NewBackend) {
	cb := &counting{Backend: nb(t)}
	inst, other := instance(t, cb), instance(t, cb)
	stream := newStream(t)
	if _, _, err := inst.Append(ctx(t), fresh(stream), events(1), eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	run := func(n int64, g *eventstore.Guard) (map[string]int, error) {
		m := &eventstore.Meter{}
		_, _, err := inst.Decide(eventstore.WithMeter(ctx(t), m), stream, guarded(n, g))
		return m.Usage().Requests, err
	}
	// A guarded command on a stream the instance has seen: one transaction.
	g := &eventstore.Guard{Tenant: stream.Tenant, CommandID: "key-" + stream.ID, Outcome: []byte("first")}
	if req, err := run(2, g); err != nil || len(req) != 1 || req["TransactWriteItems"] != 1 {
		t.Fatalf("a warm guarded command cost %v (%v), want one TransactWriteItems", req, err)
	}
	// Its repeat: the transaction alone, refused by the guard, and the
	// instance still knows the stream.
	for range 2 {
		req, err := run(2, g)
		var aa *eventstore.AlreadyAppliedError
		if !errors.As(err, &aa) || string(aa.Outcome) != "first" {
			t.Fatalf("warm repeat: %v, want the first outcome", err)
		}
		if len(req) != 1 || req["TransactWriteItems"] != 1 {
			t.Errorf("a warm repeat cost %v, want one TransactWriteItems", req)
		}
	}
	// Another instance moves the stream: a repeat now meets a commit in
	// its place too, and the stale state is dropped.
	if _, _, err := other.Decide(ctx(t), stream, add(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := run(2, g); !errors.Is(err, eventstore.ErrAlreadyApplied) {
		t.Fatalf("stale repeat: %v, want ErrAlreadyApplied", err)
	}
	req, err := run(4, nil)
	// Version 4 is a multiple of K = 4: the write and a snapshot.
	if err != nil || req["Query"] != 1 || req["PutItem"] != 2 || len(req) != 2 {
		t.Errorf("the command after a stale repeat cost %v (%v), want a load, the write and a snapshot: the stale state must be gone", req, err)
	}
	loaded, err := inst.Load(ctx(t), stream)
	if err != nil || loaded.Head.Version() != 4 || loaded.State.Sum != 1+2+3+4 {
		t.Errorf("stream at %d with sum %d (%v), want 4 and 10: the guarded command applied once", loaded.Head.Version(), loaded.State.Sum, err)
	}
}
