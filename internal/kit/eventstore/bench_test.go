package eventstore_test

import (
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
)

// The fixtures are shared with the other backends' benchmarks.
type benchAccount = storetest.BenchAccount

var (
	benchFold            = storetest.BenchFold
	benchStore           = storetest.BenchStore
	benchEventsPerSecond = storetest.BenchEventsPerSecond
)

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

// memoryRig runs the store's benchmark scenarios (storetest) on the
// in-memory backend.
func memoryRig() storetest.BenchRig {
	r := storetest.BenchRig{Backend: eventstore.NewMemoryBackend(), Measure: storetest.BenchMeasure}
	r.Fixture = func(_ *testing.B, build func(eventstore.Backend)) { build(r.Backend) }
	// The in-memory backend keeps every item; starting a new one now and
	// then keeps the heap, and so the GC's share of ns/op, steady.
	r.Renew = func() eventstore.Backend { return eventstore.NewMemoryBackend() }
	return r
}

// A plain command's write: one event, one conditional PutItem.
func BenchmarkAppend(b *testing.B) { storetest.BenchAppend(b, memoryRig()) }

// A command with an Idempotency-Key: the commit and its guard in one
// TransactWriteItems.
func BenchmarkAppendGuarded(b *testing.B) { storetest.BenchAppendGuarded(b, memoryRig()) }

// Reading a 10,000-event stream: its current state, its state at a
// version and as of a time, each with the exact requests it must cost.
func BenchmarkRead(b *testing.B) { storetest.BenchReadStream(b, memoryRig(), benchK) }

// A plain command end to end, with K=10: load, decide, append, a snapshot
// every K events; figures are per command.
func BenchmarkCommand(b *testing.B) { storetest.BenchCommand(b, memoryRig(), benchK) }

// The same command on streams this instance has seen: the conditional
// PutItem alone.
func BenchmarkCommandWarm(b *testing.B) { storetest.BenchCommandWarm(b, memoryRig(), benchK) }
