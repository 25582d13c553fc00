package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
)

// The benchmark fixtures shared by every backend's benchmarks: a
// ledger-like aggregate whose fold decodes each event's JSON, and helpers to
// build streams and check request counts.

// BenchAccount is a ledger-like state: deposits carry the balance after
// them, as the ledger's do, so a fold decodes every event's JSON.
type BenchAccount struct {
	Balance  int64 `json:"balance"`
	Deposits int64 `json:"deposits"`
}

type benchDeposited struct {
	Amount       int64  `json:"amount"`
	Reference    string `json:"reference"`
	BalanceAfter int64  `json:"balanceAfter"`
}

// BenchFold folds deposits; folded, if not nil, counts the events it saw.
// logic keys the snapshots: a fold of another logic version must ignore them.
func BenchFold(logic int, folded *int64) eventstore.Fold[BenchAccount] {
	return eventstore.Fold[BenchAccount]{
		Name:         "account",
		LogicVersion: logic,
		StateSchema:  1,
		Evolve: func(s BenchAccount, e eventstore.Event) (BenchAccount, error) {
			if folded != nil {
				*folded++
			}
			var d benchDeposited
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return s, err
			}
			s.Balance = d.BalanceAfter
			s.Deposits++
			return s, nil
		},
	}
}

// BenchDeposit is the event at version v; the balance after it is 1250*v,
// which lets a load check the state it rebuilt.
func BenchDeposit(v int64) eventstore.NewEvent {
	return eventstore.NewEvent{
		Type:          "MoneyDeposited",
		SchemaVersion: 1,
		Data:          json.RawMessage(fmt.Sprintf(`{"amount":1250,"reference":"invoice %06d","balanceAfter":%d}`, v, 1250*v)),
	}
}

// BenchMeta is what an HTTP command carries: ids are UUID-sized.
var BenchMeta = eventstore.Metadata{
	CommandID:     "0190f5c2-6b1e-7c3a-9d4f-1a2b3c4d5e6f",
	CorrelationID: "0190f5c2-6b1e-7c3a-9d4f-6f5e4d3c2b1a",
	Actor:         "user-0042",
}

var benchQuiet = eventstore.WithLogger(slog.New(slog.DiscardHandler))

func BenchStore(b eventstore.Backend, opts ...eventstore.Option) *eventstore.Store {
	return eventstore.New(b, append([]eventstore.Option{benchQuiet}, opts...)...)
}

func BenchStream(b testing.TB, id string) eventstore.StreamID {
	s, err := eventstore.NewStreamID("tenant-1", "account", id)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchExtend appends commits of size deposits each, through the aggregate,
// so that snapshots fall where real commands would put them.
func BenchExtend(ctx context.Context, b testing.TB, agg *eventstore.Aggregate[BenchAccount], cur eventstore.Current[BenchAccount], commits, size int) eventstore.Current[BenchAccount] {
	for range commits {
		evs := make([]eventstore.NewEvent, size)
		for j := range evs {
			evs[j] = BenchDeposit(cur.Head.Version() + int64(j) + 1)
		}
		next, _, err := agg.Append(ctx, cur, evs, BenchMeta, nil)
		if err != nil {
			b.Fatalf("build %s at %d: %v", cur.Head.Stream(), cur.Head.Version(), err)
		}
		cur = next
	}
	return cur
}

func BenchNew(s eventstore.StreamID) eventstore.Current[BenchAccount] {
	return eventstore.Current[BenchAccount]{Head: eventstore.NewStream(s)}
}

// BenchExpect stops the benchmark unless every op sent exactly these
// requests: the figures would then describe another store than the design.
func BenchExpect(b *testing.B, u eventstore.Usage, perOp map[string]int) {
	want := map[string]int{}
	for op, c := range perOp {
		want[op] = c * b.N
	}
	if !maps.Equal(u.Requests, want) {
		b.Fatalf("%d ops sent %v in all, want %v per op", b.N, u.Requests, perOp)
	}
}

func BenchEventsPerSecond(b *testing.B, events int64) {
	if s := b.Elapsed().Seconds(); s > 0 && events > 0 {
		b.ReportMetric(float64(events)/s, "events/s")
	}
}

// BenchLength is the events in each long stream the read benchmarks use.
const BenchLength = 10_000

// BenchStart is when the clock of the one-event stream starts: its event
// at version v is recorded at BenchStart plus v seconds.
var BenchStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// BenchStreams are the long streams of the read benchmarks, each of
// BenchLength events, snapshots every K unless said otherwise.
type BenchStreams struct {
	Kept    eventstore.StreamID // ten-event commits by the aggregate: each keeps the state after it
	Singles eventstore.StreamID // one-event commits by the aggregate, one a second from BenchStart
	Raw     eventstore.StreamID // ten-event commits appended without the fold (as AppendAll takes them), snapshots through Advance
	Plain   eventstore.StreamID // as Raw, written with K=0: events alone, no state anywhere
}

// BenchBuild writes the long streams into backend through the store, so
// that states and snapshots fall where commands would put them.
func BenchBuild(b testing.TB, backend eventstore.Backend, k int64) BenchStreams {
	ctx := b.Context()
	s := BenchStreams{Kept: BenchStream(b, "kept"), Singles: BenchStream(b, "singles"), Raw: BenchStream(b, "raw"), Plain: BenchStream(b, "plain")}
	withK := eventstore.NewAggregate(BenchStore(backend, eventstore.WithSnapshotEvery(k)), BenchFold(1, nil))
	BenchExtend(ctx, b, withK, BenchNew(s.Kept), BenchLength/10, 10)

	now := BenchStart
	clock := func() time.Time { now = now.Add(time.Second); return now }
	timed := eventstore.NewAggregate(BenchStore(backend, eventstore.WithSnapshotEvery(k), eventstore.WithClock(clock)), BenchFold(1, nil))
	BenchExtend(ctx, b, timed, BenchNew(s.Singles), BenchLength, 1)

	for _, w := range []struct {
		stream eventstore.StreamID
		agg    *eventstore.Aggregate[BenchAccount]
	}{
		{s.Raw, withK},
		{s.Plain, eventstore.NewAggregate(BenchStore(backend, eventstore.WithSnapshotEvery(0)), BenchFold(1, nil))},
	} {
		cur := BenchNew(w.stream)
		for range BenchLength / 10 {
			evs := make([]eventstore.NewEvent, 10)
			for j := range evs {
				evs[j] = BenchDeposit(cur.Head.Version() + int64(j) + 1)
			}
			out, err := w.agg.Store().AppendAll(ctx, []eventstore.Pending{{Head: cur.Head, Events: evs, Meta: BenchMeta}}, nil)
			if err != nil {
				b.Fatalf("build %s at %d: %v", w.stream, cur.Head.Version(), err)
			}
			if cur, err = w.agg.Advance(ctx, cur, out[0]); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s
}

// BenchRead is one read of a long stream, with the requests it must cost.
type BenchRead struct {
	Name    string
	Stream  func(BenchStreams) eventstore.StreamID
	Logic   int              // the reading fold's LogicVersion
	At      int64            // a state at this version, when not 0
	AsOf    func() time.Time // a state as of this time, when not nil
	Version int64            // the version the read must return; 0: not found
	Queries int              // exactly
	Slow    bool             // a full replay: too slow to run against moto
}

// BenchReads are the read benchmarks, the same on every backend.
func BenchReads() []BenchRead {
	kept := func(s BenchStreams) eventstore.StreamID { return s.Kept }
	singles := func(s BenchStreams) eventstore.StreamID { return s.Singles }
	raw := func(s BenchStreams) eventstore.StreamID { return s.Raw }
	plain := func(s BenchStreams) eventstore.StreamID { return s.Plain }
	at := func(sec float64) func() time.Time {
		return func() time.Time { return BenchStart.Add(time.Duration(sec * float64(time.Second))) }
	}
	return []BenchRead{
		// The head keeps the state: one item.
		{Name: "load/kept-state", Stream: kept, Logic: 1, Version: BenchLength, Queries: 1},
		{Name: "load/kept-state-1-event-commits", Stream: singles, Logic: 1, Version: BenchLength, Queries: 1},
		// The head, the latest snapshot, the commits after it (none).
		{Name: "load/snapshot", Stream: raw, Logic: 1, Version: BenchLength, Queries: 3},
		// The head, an empty snapshot partition, every commit by 1 MB.
		{Name: "load/no-snapshots", Stream: plain, Logic: 1, Version: BenchLength, Queries: 4, Slow: true},
		// The head's state and every snapshot are of LogicVersion 1.
		{Name: "load/stale-snapshots", Stream: kept, Logic: 2, Version: BenchLength, Queries: 5, Slow: true},
		// The commit holding the version and the one before it.
		{Name: "at/middle", Stream: singles, Logic: 1, At: 5005, Version: 5005, Queries: 1},
		{Name: "at/middle-of-a-commit", Stream: kept, Logic: 1, At: 5005, Version: 5005, Queries: 1},
		// The latest snapshot by the time and the commits up to the next
		// multiple of K.
		{Name: "as-of/between-snapshots", Stream: singles, Logic: 1, AsOf: at(5005.5), Version: 5005, Queries: 2},
		{Name: "as-of/at-a-snapshot", Stream: singles, Logic: 1, AsOf: at(5010), Version: 5010, Queries: 2},
		{Name: "as-of/before-the-first-event", Stream: singles, Logic: 1, AsOf: at(0.5), Version: 0, Queries: 2},
		{Name: "as-of/after-the-head", Stream: singles, Logic: 1, AsOf: at(BenchLength + 3600), Version: BenchLength, Queries: 2},
	}
}

// Run reads the state r asks for through agg.
func (r BenchRead) Run(ctx context.Context, agg *eventstore.Aggregate[BenchAccount], s BenchStreams) (int64, BenchAccount, error) {
	stream := r.Stream(s)
	switch {
	case r.At > 0:
		p, err := agg.At(ctx, stream, r.At)
		return p.Version, p.State, err
	case r.AsOf != nil:
		p, err := agg.AsOf(ctx, stream, r.AsOf())
		return p.Version, p.State, err
	}
	c, err := agg.Load(ctx, stream)
	return c.Head.Version(), c.State, err
}

// Check stops the benchmark unless the read returned what it must.
func (r BenchRead) Check(b *testing.B, v int64, st BenchAccount, err error) {
	if r.Version == 0 {
		if !eventstore.IsNotFound(err) {
			b.Fatalf("%s: %v, want not found", r.Name, err)
		}
		return
	}
	if err != nil || v != r.Version || st.Balance != 1250*v {
		b.Fatalf("%s: balance %d at %d (%v), want %d at %d", r.Name, st.Balance, v, err, 1250*r.Version, r.Version)
	}
}
