package dynamostore_test

import (
	"context"
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

// measure is storetest.BenchMeasure, with what the wire carried, which
// must agree with what the Meter counted.
func (r benchRig) measure(b *testing.B, per int, unit string, op func(context.Context)) eventstore.Usage {
	r.wire.Reset()
	u := storetest.BenchMeasure(b, per, unit, op)
	wire := r.wire.Counts()
	if !maps.Equal(u.Requests, wire) {
		b.Fatalf("the Meter counted %v, the wire carried %v", u.Requests, wire)
	}
	http := 0
	for _, c := range wire {
		http += c
	}
	b.ReportMetric(float64(http)/float64(b.N*per), "http-req/"+unit)
	return u
}

// suite is the rig as the store's benchmark scenarios (storetest) take
// it: fixtures built in memory and copied in, the full replays left out
// (one takes moto over 10 s).
func (r benchRig) suite() storetest.BenchRig {
	return storetest.BenchRig{
		Backend: r.measured,
		Fixture: func(b *testing.B, build func(eventstore.Backend)) {
			src := eventstore.NewMemoryBackend()
			build(src)
			r.seed(b, src)
		},
		Renew:    func() eventstore.Backend { return r.measured },
		Measure:  r.measure,
		SkipSlow: true,
	}
}

// A plain command's write: one event, one conditional PutItem.
func BenchmarkAppend(b *testing.B) { storetest.BenchAppend(b, newBenchRig(b).suite()) }

// A command with an Idempotency-Key: the commit and its guard in one
// TransactWriteItems.
func BenchmarkAppendGuarded(b *testing.B) { storetest.BenchAppendGuarded(b, newBenchRig(b).suite()) }

// Reading a 10,000-event stream, as the in-memory BenchmarkRead does,
// but for the full replays.
func BenchmarkRead(b *testing.B) { storetest.BenchReadStream(b, newBenchRig(b).suite(), benchK) }

// A plain command end to end, with K=10; figures are per command.
func BenchmarkCommand(b *testing.B) { storetest.BenchCommand(b, newBenchRig(b).suite(), benchK) }

// The same command on streams this instance has seen: the conditional
// PutItem alone.
func BenchmarkCommandWarm(b *testing.B) {
	storetest.BenchCommandWarm(b, newBenchRig(b).suite(), benchK)
}
