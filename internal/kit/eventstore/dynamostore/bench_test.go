package dynamostore_test

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/localaws/awstest"
)

// These benchmarks run most of the event store's benchmarks (see
// eventstore/bench_test.go) against moto: all but those too slow on it. Each request is counted twice: by
// the store's Meter and by the Wire, on the HTTP connection to the server;
// a benchmark stops if the two disagree. ns/op is the latency of the local
// stack (SDK, loopback HTTP, moto's single-threaded Python server), not of
// DynamoDB. docs/benchmarks.md explains the figures; `make bench` runs them.
//
// moto takes several milliseconds per PutItem, so long fixtures are built by
// the same store on the in-memory backend (which keys and sizes items exactly
// as DynamoDB does) and copied into the table, 25 items to a BatchWriteItem.

const (
	benchK = eventstore.DefaultSnapshotEvery
)

// The fixtures are shared with the other backends' benchmarks.
var (
	benchFold    = storetest.BenchFold
	benchDeposit = storetest.BenchDeposit
	benchMeta    = storetest.BenchMeta
	benchStore   = storetest.BenchStore
	benchStream  = storetest.BenchStream
	benchNew     = storetest.BenchNew
	benchExtend  = storetest.BenchExtend
	benchExpect  = storetest.BenchExpect
)

// benchRig is one events table in moto. Measured operations go through the
// Wire; fixtures are copied in through a plain client.
type benchRig struct {
	db       *dynamodb.Client
	table    string
	wire     *awstest.Wire
	measured eventstore.Backend
}

func newBenchRig(b *testing.B) benchRig {
	db := awstest.DynamoDB(b)
	table := awstest.Table(b, db, "EventsTable")
	wire := awstest.NewWire()
	// One attempt: no SDK retry can put a request on the wire that the
	// backend did not send, so the two counts must be equal.
	client := awstest.DynamoDBOver(b, wire, 1)
	return benchRig{db: db, table: table, wire: wire, measured: dynamostore.New(client, table)}
}

// seed puts every item of src (the streams, their snapshots) into the table.
func (r benchRig) seed(b *testing.B, src eventstore.Backend) {
	ctx := b.Context()
	var items []eventstore.Item
	sc := eventstore.Scan{}
	for {
		p, err := src.Scan(ctx, sc)
		if err != nil {
			b.Fatal(err)
		}
		items = append(items, p.Items...)
		if p.Next == nil {
			break
		}
		sc.Start = p.Next
	}
	for len(items) > 0 {
		n := min(len(items), 25)
		puts := make([]types.WriteRequest, n)
		for i, it := range items[:n] {
			puts[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
		}
		items = items[n:]
		for pending := map[string][]types.WriteRequest{r.table: puts}; len(pending) > 0; {
			out, err := r.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				b.Fatalf("copy the fixture into %s: %v", r.table, err)
			}
			pending = out.UnprocessedItems
		}
	}
}

// measure runs op in the benchmark loop with a Meter in its context and
// reports, per unit of work (an op does per of them), what the Meter counted
// and what the wire carried, which must agree.
func (r benchRig) measure(b *testing.B, per int, unit string, op func(context.Context)) eventstore.Usage {
	m := &eventstore.Meter{}
	ctx := eventstore.WithMeter(b.Context(), m)
	r.wire.Reset()
	for b.Loop() {
		op(ctx)
	}
	u := m.Usage()
	wire := r.wire.Counts()
	if !maps.Equal(u.Requests, wire) {
		b.Fatalf("the Meter counted %v, the wire carried %v", u.Requests, wire)
	}
	n := float64(b.N * per)
	b.ReportMetric(float64(u.Total())/n, "req/"+unit)
	http := 0
	for _, c := range wire {
		http += c
	}
	b.ReportMetric(float64(http)/n, "http-req/"+unit)
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
	r := newBenchRig(b)
	store := benchStore(r.measured)
	head := eventstore.NewStream(benchStream(b, "append"))
	evs := []eventstore.NewEvent{benchDeposit(1)}
	u := r.measure(b, 1, "op", func(ctx context.Context) {
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
	r := newBenchRig(b)
	store := benchStore(r.measured)
	stream := benchStream(b, "guarded")
	head := eventstore.NewStream(stream)
	evs := []eventstore.NewEvent{benchDeposit(1)}
	outcome := []byte(`{"accountId":"acc-0001","version":1,"balance":1250}`)
	n := 0
	u := r.measure(b, 1, "op", func(ctx context.Context) {
		n++
		g := &eventstore.Guard{Tenant: stream.Tenant, CommandID: fmt.Sprintf("0190f5c2-6b1e-7c3a-9d4f-%012d", n), Outcome: outcome}
		c, err := store.Append(ctx, head, evs, benchMeta, g)
		if err != nil {
			b.Fatal(err)
		}
		head = c.Head
	})
	benchExpect(b, u, map[string]int{"TransactWriteItems": 1})
}

// Reading a 10,000-event stream, as the in-memory BenchmarkRead does,
// but for the full replays: one takes moto over 10 s.
func BenchmarkRead(b *testing.B) {
	r := newBenchRig(b)
	src := eventstore.NewMemoryBackend()
	s := storetest.BenchBuild(b, src, benchK)
	r.seed(b, src)
	for _, c := range storetest.BenchReads() {
		if c.Slow {
			continue
		}
		b.Run(c.Name, func(b *testing.B) {
			var folded int64
			agg := eventstore.NewAggregate(benchStore(r.measured), benchFold(c.Logic, &folded))
			u := r.measure(b, 1, "op", func(ctx context.Context) {
				v, st, err := c.Run(ctx, agg, s)
				c.Check(b, v, st, err)
			})
			benchExpect(b, u, map[string]int{"Query": c.Queries})
			b.ReportMetric(float64(folded)/float64(b.N), "folded/op")
		})
	}
}

// A plain command end to end, with K=10: load (one Query of the head),
// decide, append one event (one PutItem), and a snapshot write every K
// events. An op is a round of K commands on one stream, which crosses
// exactly one multiple of K and so writes exactly one snapshot; figures
// are per command.
func BenchmarkCommand(b *testing.B) {
	r := newBenchRig(b)
	src := eventstore.NewMemoryBackend()
	stream := benchStream(b, "command")
	seed := eventstore.NewAggregate(benchStore(src, eventstore.WithSnapshotEvery(benchK)), benchFold(1, nil))
	benchExtend(b.Context(), b, seed, benchNew(stream), benchK+2, 1)
	r.seed(b, src)
	agg := eventstore.NewAggregate(benchStore(r.measured, eventstore.WithSnapshotEvery(benchK)), benchFold(1, nil))
	u := r.measure(b, benchK, "command", func(ctx context.Context) {
		for range benchK {
			cur, err := agg.Load(ctx, stream)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := agg.Append(ctx, cur, []eventstore.NewEvent{benchDeposit(cur.Head.Version() + 1)}, benchMeta, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	benchExpect(b, u, map[string]int{"Query": benchK, "PutItem": benchK + 1})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchK), "ns/command")
}

// The same command on a stream this instance has seen (WithCache, through
// Aggregate.Decide): the conditional PutItem alone, no read, and a
// snapshot every K events.
func BenchmarkCommandWarm(b *testing.B) {
	r := newBenchRig(b)
	src := eventstore.NewMemoryBackend()
	stream := benchStream(b, "command-warm")
	seed := eventstore.NewAggregate(benchStore(src, eventstore.WithSnapshotEvery(benchK)), benchFold(1, nil))
	benchExtend(b.Context(), b, seed, benchNew(stream), benchK+2, 1)
	r.seed(b, src)
	agg := eventstore.NewAggregate(benchStore(r.measured, eventstore.WithSnapshotEvery(benchK),
		eventstore.WithCache(eventstore.NewCache(1<<20))), benchFold(1, nil))
	if _, err := agg.Load(b.Context(), stream); err != nil {
		b.Fatal(err)
	}
	deposit := func(cur eventstore.Current[storetest.BenchAccount]) (eventstore.Decision, error) {
		return eventstore.Decision{Events: []eventstore.NewEvent{benchDeposit(cur.Head.Version() + 1)}, Meta: benchMeta}, nil
	}
	u := r.measure(b, benchK, "command", func(ctx context.Context) {
		for range benchK {
			if _, _, err := agg.Decide(ctx, stream, deposit); err != nil {
				b.Fatal(err)
			}
		}
	})
	benchExpect(b, u, map[string]int{"PutItem": benchK + 1})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchK), "ns/command")
}
