package storetest

import (
	"context"
	"fmt"
	"testing"

	"annals/internal/kit/eventstore"
)

// BenchRig is a backend the store's benchmarks run on: the in-memory one,
// or a DynamoDB table on the local server. Every scenario below runs on
// each, with the same exact request counts.
type BenchRig struct {
	// Backend is what the measured operations go through.
	Backend eventstore.Backend
	// Fixture has build write a fixture, then makes it readable through
	// Backend: in memory build writes into Backend itself; a remote rig
	// builds in memory and copies the items in, which is much faster.
	Fixture func(b *testing.B, build func(eventstore.Backend))
	// Renew returns the backend to go on with after many writes: a new
	// one where the old one would keep every item in the heap.
	Renew func() eventstore.Backend
	// Measure runs op in the benchmark loop with a Meter in its context
	// and reports, per unit of work (an op does per of them), what it
	// counted.
	Measure func(b *testing.B, per int, unit string, op func(context.Context)) eventstore.Usage
	// SkipSlow leaves out the reads that replay a whole long stream.
	SkipSlow bool
}

// benchRenewEvery is how many appends go to one backend before Renew.
const benchRenewEvery = 1 << 14

// BenchAppend is a plain command's write: one event, one conditional
// PutItem.
func BenchAppend(b *testing.B, r BenchRig) {
	benchAppendEach(b, r, "append", "PutItem", func(int, eventstore.StreamID) *eventstore.Guard { return nil })
}

// BenchAppendGuarded is a command with an Idempotency-Key: the commit and
// its guard in one TransactWriteItems.
func BenchAppendGuarded(b *testing.B, r BenchRig) {
	benchAppendEach(b, r, "guarded", "TransactWriteItems", func(n int, s eventstore.StreamID) *eventstore.Guard {
		outcome := []byte(`{"accountId":"acc-0001","version":1,"balance":1250}`)
		return &eventstore.Guard{Tenant: s.Tenant, CommandID: fmt.Sprintf("0190f5c2-6b1e-7c3a-9d4f-%012d", n), Outcome: outcome}
	})
}

func benchAppendEach(b *testing.B, r BenchRig, id, request string, guard func(int, eventstore.StreamID) *eventstore.Guard) {
	stream := BenchStream(b, id)
	evs := []eventstore.NewEvent{BenchDeposit(1)}
	store := BenchStore(r.Backend)
	head := eventstore.NewStream(stream)
	n := 0
	u := r.Measure(b, 1, "op", func(ctx context.Context) {
		if n++; n%benchRenewEvery == 0 {
			b.StopTimer()
			store, head = BenchStore(r.Renew()), eventstore.NewStream(BenchStream(b, fmt.Sprintf("%s-%d", id, n)))
			b.StartTimer()
		}
		c, err := store.Append(ctx, head, evs, BenchMeta, guard(n, stream))
		if err != nil {
			b.Fatal(err)
		}
		head = c.Head
	})
	BenchExpect(b, u, map[string]int{request: 1})
	size, err := store.CommitSize(eventstore.Pending{Head: head, Events: evs, Meta: BenchMeta})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(size), "item-bytes")
}

// BenchReadStream reads a 10,000-event stream: its current state, its
// state at a version and as of a time, each with the exact requests it
// must cost.
func BenchReadStream(b *testing.B, r BenchRig, k int64) {
	var s BenchStreams
	r.Fixture(b, func(backend eventstore.Backend) { s = BenchBuild(b, backend, k) })
	for _, c := range BenchReads() {
		if c.Slow && r.SkipSlow {
			continue
		}
		b.Run(c.Name, func(b *testing.B) {
			var folded int64
			agg := eventstore.NewAggregate(BenchStore(r.Backend), BenchFold(c.Logic, &folded))
			u := r.Measure(b, 1, "op", func(ctx context.Context) {
				v, st, err := c.Run(ctx, agg, s)
				c.Check(b, v, st, err)
			})
			BenchExpect(b, u, map[string]int{"Query": c.Queries})
			b.ReportMetric(float64(folded)/float64(b.N), "folded/op")
			if c.Slow {
				BenchEventsPerSecond(b, folded)
			}
		})
	}
}

// benchCommandStreams writes K streams whose heads start at every residue
// of K, so that a round of one command on each writes exactly one
// snapshot. K streams rather than one keep every partition small: the
// in-memory backend's Query scans its whole partition, DynamoDB's does not.
func benchCommandStreams(b *testing.B, r BenchRig, k int64) []eventstore.StreamID {
	streams := make([]eventstore.StreamID, k)
	r.Fixture(b, func(backend eventstore.Backend) {
		agg := eventstore.NewAggregate(BenchStore(backend, eventstore.WithSnapshotEvery(k)), BenchFold(1, nil))
		for i := range streams {
			streams[i] = BenchStream(b, fmt.Sprintf("command-%02d", i))
			cur := BenchExtend(b.Context(), b, agg, BenchNew(streams[i]), 1, i+1)
			BenchExtend(b.Context(), b, agg, cur, int(k)+1, 1)
		}
	})
	return streams
}

// BenchCommand is a plain command end to end: load (one Query of the
// head), decide, append one event (one PutItem), and a snapshot write
// every K events. An op is a round of one command on each of K streams,
// which writes exactly one snapshot; figures are per command.
func BenchCommand(b *testing.B, r BenchRig, k int64) {
	streams := benchCommandStreams(b, r, k)
	agg := eventstore.NewAggregate(BenchStore(r.Backend, eventstore.WithSnapshotEvery(k)), BenchFold(1, nil))
	u := r.Measure(b, len(streams), "command", func(ctx context.Context) {
		for _, s := range streams {
			cur, err := agg.Load(ctx, s)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := agg.Append(ctx, cur, []eventstore.NewEvent{BenchDeposit(cur.Head.Version() + 1)}, BenchMeta, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	BenchExpect(b, u, map[string]int{"Query": len(streams), "PutItem": len(streams) + 1})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(streams)), "ns/command")
}

// BenchCommandWarm is the same command on streams this instance has seen
// (WithCache, through Aggregate.Decide): the conditional PutItem alone, no
// read, and a snapshot every K events.
func BenchCommandWarm(b *testing.B, r BenchRig, k int64) {
	streams := benchCommandStreams(b, r, k)
	agg := eventstore.NewAggregate(BenchStore(r.Backend, eventstore.WithSnapshotEvery(k),
		eventstore.WithCache(eventstore.NewCache(1<<20))), BenchFold(1, nil))
	for _, s := range streams {
		if _, err := agg.Load(b.Context(), s); err != nil {
			b.Fatal(err)
		}
	}
	deposit := func(cur eventstore.Current[BenchAccount]) (eventstore.Decision, error) {
		return eventstore.Decision{Events: []eventstore.NewEvent{BenchDeposit(cur.Head.Version() + 1)}, Meta: BenchMeta}, nil
	}
	u := r.Measure(b, len(streams), "command", func(ctx context.Context) {
		for _, s := range streams {
			if _, _, err := agg.Decide(ctx, s, deposit); err != nil {
				b.Fatal(err)
			}
		}
	})
	BenchExpect(b, u, map[string]int{"PutItem": len(streams) + 1})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(streams)), "ns/command")
}

// BenchMeasure runs op in the benchmark loop with a Meter in its context
// and reports what the Meter counted per unit of work; an op does per of
// them.
func BenchMeasure(b *testing.B, per int, unit string, op func(context.Context)) eventstore.Usage {
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
