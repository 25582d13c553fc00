package eventstore_test

import (
	"context"
	"fmt"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/storetest"
)

// These benchmarks measure, on the in-memory backend, what the design
// promises a command and a load cost in requests and DynamoDB capacity (as
// the store's Meter computes it, the same way on every backend), and how fast
// the store and a fold run. dynamostore's benchmarks measure most of the same
// against moto. docs/benchmarks.md explains the figures; `make bench` runs them.

const (
	benchStreamLength = storetest.BenchLength // events in the long streams that loads replay
	benchK            = eventstore.DefaultSnapshotEvery
	// The in-memory backend keeps every item; starting a new one now and
	// then keeps the heap, and so the GC's share of ns/op, steady.
	benchRotateEvery = 1 << 14
)

// The fixtures are shared with the other backends' benchmarks.
type benchAccount = storetest.BenchAccount

var (
	benchFold            = storetest.BenchFold
	benchDeposit         = storetest.BenchDeposit
	benchMeta            = storetest.BenchMeta
	benchStore           = storetest.BenchStore
	benchStream          = storetest.BenchStream
	benchNew             = storetest.BenchNew
	benchExtend          = storetest.BenchExtend
	benchExpect          = storetest.BenchExpect
	benchEventsPerSecond = storetest.BenchEventsPerSecond
)

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

// Reading a 10,000-event stream: its current state, its state at a
// version and as of a time, each with the exact requests it must cost.
func BenchmarkRead(b *testing.B) {
	backend := eventstore.NewMemoryBackend()
	s := storetest.BenchBuild(b, backend, benchK)
	for _, c := range storetest.BenchReads() {
		b.Run(c.Name, func(b *testing.B) {
			var folded int64
			agg := eventstore.NewAggregate(benchStore(backend), benchFold(c.Logic, &folded))
			u := benchMeasure(b, 1, "op", func(ctx context.Context) {
				v, st, err := c.Run(ctx, agg, s)
				c.Check(b, v, st, err)
			})
			benchExpect(b, u, map[string]int{"Query": c.Queries})
			b.ReportMetric(float64(folded)/float64(b.N), "folded/op")
			if c.Slow {
				benchEventsPerSecond(b, folded)
			}
		})
	}
}

// How fast a stream folds in memory: the whole load path (query pages,
// decode commits, evolve), and the domain's Evolve alone.
func BenchmarkFold(b *testing.B) {
	backend := eventstore.NewMemoryBackend()
	// The stream without states or snapshots of BenchmarkRead: a load
	// folds every event.
	stream := storetest.BenchBuild(b, backend, benchK).Plain

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
// exactly one snapshot.
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

// A plain command end to end, with K=10: load (one Query of the head),
// decide, append one event (one PutItem), and a snapshot write every K
// events. An op is a
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

// The same command on streams this instance has seen (WithCache, through
// Aggregate.Decide): the conditional PutItem alone, no read, and a
// snapshot every K events.
func BenchmarkCommandWarm(b *testing.B) {
	backend := eventstore.NewMemoryBackend()
	streams := benchCommandStreams(b, backend)
	agg := eventstore.NewAggregate(benchStore(backend, eventstore.WithSnapshotEvery(benchK),
		eventstore.WithCache(eventstore.NewCache(1<<20))), benchFold(1, nil))
	for _, s := range streams {
		if _, err := agg.Load(b.Context(), s); err != nil {
			b.Fatal(err)
		}
	}
	deposit := func(cur eventstore.Current[benchAccount]) (eventstore.Decision, error) {
		return eventstore.Decision{Events: []eventstore.NewEvent{benchDeposit(cur.Head.Version() + 1)}, Meta: benchMeta}, nil
	}
	u := benchMeasure(b, len(streams), "command", func(ctx context.Context) {
		for _, s := range streams {
			if _, _, err := agg.Decide(ctx, s, deposit); err != nil {
				b.Fatal(err)
			}
		}
	})
	benchExpect(b, u, map[string]int{"PutItem": len(streams) + 1})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(streams)), "ns/command")
}
