package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"testing"

	"annals/internal/eventstore"
)

// These benchmarks measure, on the in-memory backend, what the design
// promises a command and a load cost in requests and DynamoDB capacity (as
// the store's Meter computes it, the same way on every backend), and how fast
// the store and a fold run. dynamostore's benchmarks measure most of the same
// against moto. docs/benchmarks.md explains the figures; `make bench` runs them.

const (
	benchStreamLength = 10_000 // events in the long streams that loads replay
	benchCommitSize   = 10     // events per commit when building them
	benchK            = eventstore.DefaultSnapshotEvery
	// The in-memory backend keeps every item; starting a new one now and
	// then keeps the heap, and so the GC's share of ns/op, steady.
	benchRotateEvery = 1 << 14
)

// benchAccount is a ledger-like state: deposits carry the balance after
// them, as the ledger's do, so a fold decodes every event's JSON.
type benchAccount struct {
	Balance  int64 `json:"balance"`
	Deposits int64 `json:"deposits"`
}

type benchDeposited struct {
	Amount       int64  `json:"amount"`
	Reference    string `json:"reference"`
	BalanceAfter int64  `json:"balanceAfter"`
}

// benchFold folds deposits; folded, if not nil, counts the events it saw.
// logic keys the snapshots: a fold of another logic version must ignore them.
func benchFold(logic int, folded *int64) eventstore.Fold[benchAccount] {
	return eventstore.Fold[benchAccount]{
		Name:         "account",
		LogicVersion: logic,
		StateSchema:  1,
		Evolve: func(s benchAccount, e eventstore.Event) (benchAccount, error) {
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

// benchDeposit is the event at version v; the balance after it is 1250*v,
// which lets a load check the state it rebuilt.
func benchDeposit(v int64) eventstore.NewEvent {
	return eventstore.NewEvent{
		Type:          "MoneyDeposited",
		SchemaVersion: 1,
		Data:          json.RawMessage(fmt.Sprintf(`{"amount":1250,"reference":"invoice %06d","balanceAfter":%d}`, v, 1250*v)),
	}
}

// benchMeta is what an HTTP command carries: ids are UUID-sized.
var benchMeta = eventstore.Metadata{
	CommandID:     "0190f5c2-6b1e-7c3a-9d4f-1a2b3c4d5e6f",
	CorrelationID: "0190f5c2-6b1e-7c3a-9d4f-6f5e4d3c2b1a",
	Actor:         "user-0042",
}

var benchQuiet = eventstore.WithLogger(slog.New(slog.DiscardHandler))

func benchStore(b eventstore.Backend, opts ...eventstore.Option) *eventstore.Store {
	return eventstore.New(b, append([]eventstore.Option{benchQuiet}, opts...)...)
}

func benchStream(b *testing.B, id string) eventstore.StreamID {
	s, err := eventstore.NewStreamID("tenant-1", "account", id)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchExtend appends commits of size deposits each, through the aggregate,
// so that snapshots fall where real commands would put them.
func benchExtend(ctx context.Context, b *testing.B, agg *eventstore.Aggregate[benchAccount], cur eventstore.Current[benchAccount], commits, size int) eventstore.Current[benchAccount] {
	for range commits {
		evs := make([]eventstore.NewEvent, size)
		for j := range evs {
			evs[j] = benchDeposit(cur.Head.Version() + int64(j) + 1)
		}
		next, _, err := agg.Append(ctx, cur, evs, benchMeta, nil)
		if err != nil {
			b.Fatalf("build %s at %d: %v", cur.Head.Stream(), cur.Head.Version(), err)
		}
		cur = next
	}
	return cur
}

func benchNew(s eventstore.StreamID) eventstore.Current[benchAccount] {
	return eventstore.Current[benchAccount]{Head: eventstore.NewStream(s)}
}

// benchStreams are the long streams the load benchmarks read.
type benchStreams struct {
	atHead eventstore.StreamID // 10,000 events written with K=50: a snapshot at the head
	behind eventstore.StreamID // 9,999 events with K=50: the last snapshot 49 events back
	plain  eventstore.StreamID // 10,000 events written with K=0: no snapshot at all
}

func benchBuildStreams(b *testing.B, backend eventstore.Backend) benchStreams {
	ctx := b.Context()
	s := benchStreams{atHead: benchStream(b, "at-head"), behind: benchStream(b, "behind"), plain: benchStream(b, "plain")}
	withK := eventstore.NewAggregate(benchStore(backend, eventstore.WithSnapshotEvery(benchK)), benchFold(1, nil))
	noK := eventstore.NewAggregate(benchStore(backend, eventstore.WithSnapshotEvery(0)), benchFold(1, nil))
	benchExtend(ctx, b, withK, benchNew(s.atHead), benchStreamLength/benchCommitSize, benchCommitSize)
	cur := benchExtend(ctx, b, withK, benchNew(s.behind), (benchStreamLength-benchK)/benchCommitSize, benchCommitSize)
	benchExtend(ctx, b, withK, cur, benchK-1, 1)
	benchExtend(ctx, b, noK, benchNew(s.plain), benchStreamLength/benchCommitSize, benchCommitSize)
	return s
}

// benchMeasure runs op in the benchmark loop with a Meter in its context and
// reports what the Meter counted per unit of work; an op does per of them.
func benchMeasure(b *testing.B, per int, unit string, op func(context.Context)) eventstore.Usage {
	m := &eventstore.Meter{}
	ctx := eventstore.WithMeter(b.Context(), m)
	for b.Loop() {
		op(ctx)
	}
	u := m.Usage()
	n := float64(b.N * per)
	b.ReportMetric(float64(u.Total())/n, "req/"+unit)
	for op, c := range u.Requests {
		b.ReportMetric(float64(c)/n, op+"/"+unit)
	}
	if u.WriteUnits > 0 {
		b.ReportMetric(u.WriteUnits/n, "WCU/"+unit)
	}
	if u.ReadUnits > 0 {
		b.ReportMetric(u.ReadUnits/n, "RCU/"+unit)
	}
	return u
}

// benchExpect stops the benchmark unless every op sent exactly these
// requests: the figures would then describe another store than the design.
func benchExpect(b *testing.B, u eventstore.Usage, perOp map[string]int) {
	want := map[string]int{}
	for op, c := range perOp {
		want[op] = c * b.N
	}
	if !maps.Equal(u.Requests, want) {
		b.Fatalf("%d ops sent %v in all, want %v per op", b.N, u.Requests, perOp)
	}
}

func benchEventsPerSecond(b *testing.B, events int64) {
	if s := b.Elapsed().Seconds(); s > 0 && events > 0 {
		b.ReportMetric(float64(events)/s, "events/s")
	}
}

// A plain command's write: one event, one conditional PutItem.
func BenchmarkAppend(b *testing.B) {
	stream := benchStream(b, "append")
	evs := []eventstore.NewEvent{benchDeposit(1)}
	var (
		store *eventstore.Store
		head  eventstore.Head
		n     int
	)
	fresh := func() {
		store = benchStore(eventstore.NewMemoryBackend())
		head = eventstore.NewStream(stream)
	}
	fresh()
	u := benchMeasure(b, 1, "op", func(ctx context.Context) {
		if n++; n%benchRotateEvery == 0 {
			b.StopTimer()
			fresh()
			b.StartTimer()
		}
		c, err := store.Append(ctx, head, evs, benchMeta, nil)
		if err != nil {
			b.Fatal(err)
		}
		head = c.Head
	})
	benchExpect(b, u, map[string]int{"PutItem": 1})
	size, err := store.CommitSize(eventstore.Pending{Head: head, Events: evs, Meta: benchMeta})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(size), "item-bytes")
}

// A command with an Idempotency-Key: the commit and its guard in one
// TransactWriteItems.
func BenchmarkAppendGuarded(b *testing.B) {
	stream := benchStream(b, "guarded")
	evs := []eventstore.NewEvent{benchDeposit(1)}
	outcome := []byte(`{"accountId":"acc-0001","version":1,"balance":1250}`)
	var (
		store *eventstore.Store
		head  eventstore.Head
		n     int
	)
	fresh := func() {
		store = benchStore(eventstore.NewMemoryBackend())
		head = eventstore.NewStream(stream)
	}
	fresh()
	u := benchMeasure(b, 1, "op", func(ctx context.Context) {
		if n++; n%benchRotateEvery == 0 {
			b.StopTimer()
			fresh()
			b.StartTimer()
		}
		g := &eventstore.Guard{Tenant: stream.Tenant, CommandID: fmt.Sprintf("0190f5c2-6b1e-7c3a-9d4f-%012d", n), Outcome: outcome}
		c, err := store.Append(ctx, head, evs, benchMeta, g)
		if err != nil {
			b.Fatal(err)
		}
		head = c.Head
	})
	benchExpect(b, u, map[string]int{"TransactWriteItems": 1})
}

// benchLoad is one way to load a stream of the fixture.
type benchLoad struct {
	name   string
	stream eventstore.StreamID
	k      int64 // the loading store's K, which also sets its page size (K+2 items)
	logic  int
	head   int64
	one    bool // the design's promise holds: one Query
}

// Loading the current state of a 10,000-event stream.
func BenchmarkLoad(b *testing.B) {
	backend := eventstore.NewMemoryBackend()
	s := benchBuildStreams(b, backend)
	for _, c := range []benchLoad{
		{"snapshot-at-head", s.atHead, benchK, 1, benchStreamLength, true},
		{"snapshot-49-behind", s.behind, benchK, 1, benchStreamLength - 1, true},
		{"no-snapshots", s.plain, benchK, 1, benchStreamLength, false},
		// A fold of another logic version ignores every snapshot there is.
		{"stale-snapshots", s.atHead, benchK, 2, benchStreamLength, false},
		// A store with snapshots off pages by K+2 = 2 items.
		{"no-snapshots-loader-k0", s.plain, 0, 1, benchStreamLength, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			var folded int64
			agg := eventstore.NewAggregate(benchStore(backend, eventstore.WithSnapshotEvery(c.k)), benchFold(c.logic, &folded))
			u := benchMeasure(b, 1, "op", func(ctx context.Context) {
				cur, err := agg.Load(ctx, c.stream)
				if err != nil {
					b.Fatal(err)
				}
				if v := cur.Head.Version(); v != c.head || cur.State.Balance != 1250*v {
					b.Fatalf("loaded balance %d at %d, want %d at %d", cur.State.Balance, v, 1250*c.head, c.head)
				}
			})
			if c.one {
				benchExpect(b, u, map[string]int{"Query": 1})
			}
			b.ReportMetric(float64(folded)/float64(b.N), "folded/op")
			if !c.one {
				benchEventsPerSecond(b, folded)
			}
		})
	}
}

// How fast a stream folds in memory: the whole load path (query pages,
// decode commits, evolve), and the domain's Evolve alone.
func BenchmarkFold(b *testing.B) {
	backend := eventstore.NewMemoryBackend()
	stream := benchStream(b, "fold")
	writer := eventstore.NewAggregate(benchStore(backend, eventstore.WithSnapshotEvery(0)), benchFold(1, nil))
	benchExtend(b.Context(), b, writer, benchNew(stream), benchStreamLength/benchCommitSize, benchCommitSize)

	b.Run("replay-10k", func(b *testing.B) {
		var folded int64
		agg := eventstore.NewAggregate(benchStore(backend), benchFold(1, &folded))
		for b.Loop() {
			if _, err := agg.Load(b.Context(), stream); err != nil {
				b.Fatal(err)
			}
		}
		if folded != int64(b.N)*benchStreamLength {
			b.Fatalf("folded %d events in %d loads, want %d each", folded, b.N, benchStreamLength)
		}
		benchEventsPerSecond(b, folded)
	})

	b.Run("evolve-10k", func(b *testing.B) {
		var evs []eventstore.Event
		store := benchStore(backend)
		for from := int64(1); from != 0; {
			p, err := store.Read(b.Context(), stream, from, 1000)
			if err != nil {
				b.Fatal(err)
			}
			evs = append(evs, p.Events...)
			from = p.Next
		}
		f := benchFold(1, nil)
		var s benchAccount
		for b.Loop() {
			s = benchAccount{}
			for _, e := range evs {
				var err error
				if s, err = f.Evolve(s, e); err != nil {
					b.Fatal(err)
				}
			}
		}
		if s.Deposits != benchStreamLength {
			b.Fatalf("folded %d deposits, want %d", s.Deposits, benchStreamLength)
		}
		benchEventsPerSecond(b, int64(b.N)*int64(len(evs)))
	})
}

// benchCommandStreams seeds K streams for BenchmarkCommand: their heads
// start at every residue of K, so that a round of one command on each writes
// exactly one snapshot, and each already holds the K+2 items a load reads.
// K streams rather than one keep every partition small: the in-memory
// backend's Query scans its whole partition, DynamoDB's does not.
func benchCommandStreams(b *testing.B, backend eventstore.Backend) []eventstore.StreamID {
	agg := eventstore.NewAggregate(benchStore(backend, eventstore.WithSnapshotEvery(benchK)), benchFold(1, nil))
	streams := make([]eventstore.StreamID, benchK)
	for i := range streams {
		streams[i] = benchStream(b, fmt.Sprintf("command-%02d", i))
		cur := benchExtend(b.Context(), b, agg, benchNew(streams[i]), 1, i+1)
		benchExtend(b.Context(), b, agg, cur, benchK+1, 1)
	}
	return streams
}

// A plain command end to end, with K=50: load (one Query), decide, append
// one event (one PutItem), and a snapshot write every K events. An op is a
// round of one command on each stream, which writes exactly one snapshot;
// figures are per command.
func BenchmarkCommand(b *testing.B) {
	backend := eventstore.NewMemoryBackend()
	streams := benchCommandStreams(b, backend)
	agg := eventstore.NewAggregate(benchStore(backend, eventstore.WithSnapshotEvery(benchK)), benchFold(1, nil))
	u := benchMeasure(b, len(streams), "command", func(ctx context.Context) {
		for _, s := range streams {
			cur, err := agg.Load(ctx, s)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := agg.Append(ctx, cur, []eventstore.NewEvent{benchDeposit(cur.Head.Version() + 1)}, benchMeta, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	benchExpect(b, u, map[string]int{"Query": len(streams), "PutItem": len(streams) + 1})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(streams)), "ns/command")
}
