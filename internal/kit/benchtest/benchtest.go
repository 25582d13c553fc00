// Package benchtest counts what one request to a Lambda handler costs in
// DynamoDB requests, three ways that must agree: where the requests reach
// the handler's stores, on the wire to the server (against moto), and in the
// handler's own log line per request (what its Meter saw), or, for a stream
// handler, which keeps no Meter and logs none, in a Meter the benchmark puts
// on its context. A benchmark that uses it stops when the counts disagree
// with each other or with what the design says the request sends.
package benchtest

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi/httpapitest"
)

// Calls counts the calls that reach a store, by the DynamoDB operation each
// one is, and the time they take (against moto, mostly the server's).
type Calls struct {
	mu sync.Mutex
	n  map[string]int
	d  map[string]time.Duration
}

// Do runs one call of the operation op and counts it.
func (c *Calls) Do(op string, call func() error) error {
	start := time.Now()
	err := call()
	d := time.Since(start)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n, c.d = map[string]int{}, map[string]time.Duration{}
	}
	c.n[op]++
	c.d[op] += d
	return err
}

// Take returns the counts and times so far and starts again from zero.
func (c *Calls) Take() (map[string]int, map[string]time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, d := c.n, c.d
	c.n, c.d = nil, nil
	if n == nil {
		n, d = map[string]int{}, map[string]time.Duration{}
	}
	return n, d
}

// Backend counts an event store backend's requests: one write is a
// PutItem, several a TransactWriteItems, as in both backends.
type Backend struct {
	eventstore.Backend
	Calls *Calls
}

func (b Backend) Write(ctx context.Context, writes []eventstore.Write, token string) error {
	op := "PutItem"
	if len(writes) > 1 {
		op = "TransactWriteItems"
	}
	return b.Calls.Do(op, func() error { return b.Backend.Write(ctx, writes, token) })
}

func (b Backend) Query(ctx context.Context, q eventstore.Query) (p eventstore.Page, err error) {
	err = b.Calls.Do("Query", func() error { p, err = b.Backend.Query(ctx, q); return err })
	return p, err
}

func (b Backend) Get(ctx context.Context, pk string, sk eventstore.SortKey) (it eventstore.Item, err error) {
	err = b.Calls.Do("GetItem", func() error { it, err = b.Backend.Get(ctx, pk, sk); return err })
	return it, err
}

// DynamoDBAPI is the part of the DynamoDB client the view stores use.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// DynamoDB counts the requests of a store that takes a DynamoDB client (a
// view's) where they are sent, as Backend counts an event store's, and
// reports each to the Meter on the context as the event store's backends
// do: capacity by DynamoDB's rules, a write at its price whether or not
// its condition held. The writes to a table's indexes are not in it: the
// client does not know them.
type DynamoDB struct {
	DB    DynamoDBAPI
	Calls *Calls
}

func (d DynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (out *dynamodb.GetItemOutput, err error) {
	err = d.Calls.Do("GetItem", func() error { out, err = d.DB.GetItem(ctx, in, opts...); return err })
	var items []eventstore.Item
	if err == nil {
		items = []eventstore.Item{out.Item}
	}
	eventstore.RecordRead(ctx, "GetItem", items, in.ConsistentRead != nil && *in.ConsistentRead)
	return out, err
}

func (d DynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (out *dynamodb.QueryOutput, err error) {
	err = d.Calls.Do("Query", func() error { out, err = d.DB.Query(ctx, in, opts...); return err })
	var items []eventstore.Item
	if err == nil {
		items = out.Items
	}
	eventstore.RecordRead(ctx, "Query", items, in.ConsistentRead != nil && *in.ConsistentRead)
	return out, err
}

func (d DynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (out *dynamodb.PutItemOutput, err error) {
	eventstore.Record(ctx, "PutItem", 0, eventstore.WriteUnits([]eventstore.Item{in.Item}, false))
	err = d.Calls.Do("PutItem", func() error { out, err = d.DB.PutItem(ctx, in, opts...); return err })
	return out, err
}

func (d DynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (out *dynamodb.TransactWriteItemsOutput, err error) {
	var items []eventstore.Item
	for _, w := range in.TransactItems {
		if w.Put == nil {
			return nil, errors.New("benchtest.DynamoDB prices the puts of a transaction, not its other writes")
		}
		items = append(items, w.Put.Item)
	}
	eventstore.Record(ctx, "TransactWriteItems", 0, eventstore.WriteUnits(items, true))
	err = d.Calls.Do("TransactWriteItems", func() error { out, err = d.DB.TransactWriteItems(ctx, in, opts...); return err })
	return out, err
}

// Commits is an event store backend that keeps the commit items written
// through it, in order: what the events table's stream hands the fan-out
// (its event source takes commit inserts only, not snapshots or guards).
type Commits struct {
	eventstore.Backend
	mu    sync.Mutex
	items []eventstore.Item
}

func (c *Commits) Write(ctx context.Context, writes []eventstore.Write, token string) error {
	if err := c.Backend.Write(ctx, writes, token); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range writes {
		if _, err := eventstore.DecodeCommit(w.Item); err == nil {
			c.items = append(c.items, w.Item)
		}
	}
	return nil
}

// Take returns the commits written since the last Take.
func (c *Commits) Take() []eventstore.Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.items
	c.items = nil
	return out
}

// Items reads every item src holds (the streams' commits, their snapshots,
// in whatever partitions the store keeps them): a fixture built in memory,
// to be copied into a table.
func Items(tb testing.TB, src eventstore.Backend) []eventstore.Item {
	tb.Helper()
	var items []eventstore.Item
	for sc := (eventstore.Scan{}); ; {
		p, err := src.Scan(tb.Context(), sc)
		if err != nil {
			tb.Fatal(err)
		}
		items = append(items, p.Items...)
		if p.Next == nil {
			return items
		}
		sc.Start = p.Next
	}
}

// Total is the number of requests of every operation.
func Total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// Wire counts the HTTP requests the server received, by operation
// (awstest.Wire).
type Wire interface {
	Counts() map[string]int
	Reset()
}

// Meter is the Meter of a handler that keeps none of its own (a stream
// handler): the benchmark hands the handler Context(ctx), and Check reads
// what the requests since Start reported to it.
type Meter struct {
	mu sync.Mutex
	m  *eventstore.Meter
}

// Context returns ctx with the Meter.
func (m *Meter) Context(ctx context.Context) context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = &eventstore.Meter{}
	}
	return eventstore.WithMeter(ctx, m.m)
}

// take returns what the Meter counted and starts a new one: a context made
// before it reports to the old one.
func (m *Meter) take() eventstore.Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	var u eventstore.Usage
	if m.m != nil {
		u = m.m.Usage()
	}
	if u.Requests == nil {
		u.Requests = map[string]int{}
	}
	m.m = &eventstore.Meter{}
	return u
}

// Handler is what is counted of one handler under a benchmark.
type Handler struct {
	// Logged adds up the request lines of a handler that logs what its
	// Meter saw (an HTTP handler, one line per request); nil for one that
	// does not.
	Logged *httpapitest.LineCounter
	// Meter, for a handler that keeps no Meter of its own, is the one the
	// benchmark puts on the context it hands the handler; nil for one that
	// touches no DynamoDB table.
	Meter *Meter
	// Metered are the stores that report every request to the handler's
	// Meter; Unmetered those that do only on DynamoDB, not in memory (or
	// that are not DynamoDB's: Kinesis).
	Metered, Unmetered []*Calls
	// Wire is the connection to the server; nil in memory.
	Wire Wire
}

// Start forgets what setting up the benchmark sent. Contexts with the
// Meter are to be made after it.
func (h Handler) Start() {
	for _, c := range h.stores() {
		c.Take()
	}
	if h.Logged != nil {
		h.Logged.Take()
	}
	if h.Meter != nil {
		h.Meter.take()
	}
	if h.Wire != nil {
		h.Wire.Reset()
	}
}

func (h Handler) stores() []*Calls {
	return append(append([]*Calls(nil), h.Metered...), h.Unmetered...)
}

// Counted is what b.N requests sent, and what the handler logged of them.
type Counted struct {
	// Sent counts the requests that reached the stores, by operation;
	// Spent is the time they took.
	Sent  map[string]int
	Spent map[string]time.Duration
	// Logged is what the handler's log lines add up to (Handler.Logged).
	Logged httpapitest.Sums
	// Metered is what the benchmark's Meter counted (Handler.Meter).
	Metered eventstore.Usage
}

// Check checks that the stores, the wire and the handler's log lines (or
// the benchmark's Meter) agree on what b.N requests sent since Start, and
// that it is what the design says (want, in all), then reports it per
// request: req/op, one <op>/op per operation and, against moto,
// http-req/op.
func (h Handler) Check(b *testing.B, want map[string]int) Counted {
	b.Helper()
	c := Counted{Sent: map[string]int{}, Spent: map[string]time.Duration{}}
	metered := map[string]int{}
	for i, calls := range h.stores() {
		n, d := calls.Take()
		for op, k := range n {
			c.Sent[op] += k
			c.Spent[op] += d[op]
			if i < len(h.Metered) {
				metered[op] += k
			}
		}
	}
	if h.Logged != nil {
		c.Logged = h.Logged.Take()
		if len(c.Logged.Warnings) > 0 {
			b.Fatalf("the handler logged warnings: %q", c.Logged.Warnings)
		}
		if c.Logged.Lines != b.N {
			b.Fatalf("%d log lines for %d requests", c.Logged.Lines, b.N)
		}
	}
	n := float64(b.N)
	if h.Wire != nil {
		wire := h.Wire.Counts()
		if !maps.Equal(c.Sent, wire) {
			b.Fatalf("the stores sent %v, the wire carried %v", c.Sent, wire)
		}
		// On DynamoDB every store reports to the Meter.
		metered = wire
		b.ReportMetric(float64(Total(wire))/n, "http-req/op")
	}
	if h.Logged != nil && c.Logged.Requests != int64(Total(metered)) {
		b.Fatalf("the handler's log lines count %d requests, the stores that report to its Meter received %d (%v in all)", c.Logged.Requests, Total(metered), c.Sent)
	}
	if h.Meter != nil {
		c.Metered = h.Meter.take()
		if !maps.Equal(c.Metered.Requests, metered) {
			b.Fatalf("the Meter counts %v, the stores that report to it received %v (%v in all)", c.Metered.Requests, metered, c.Sent)
		}
	}
	// An operation wanted zero times is one not sent.
	want = maps.Clone(want)
	maps.DeleteFunc(want, func(_ string, n int) bool { return n == 0 })
	if !maps.Equal(c.Sent, want) {
		b.Fatalf("%d requests sent %v in all, want %v", b.N, c.Sent, want)
	}
	b.ReportMetric(float64(Total(c.Sent))/n, "req/op")
	for op, k := range c.Sent {
		b.ReportMetric(float64(k)/n, op+"/op")
	}
	return c
}

// InMemoryAndOnMoto runs f as two sub-benchmarks, "memory" and "moto",
// telling it which one it is.
func InMemoryAndOnMoto(b *testing.B, f func(b *testing.B, moto bool)) {
	for _, backend := range []struct {
		name string
		moto bool
	}{{"memory", false}, {"moto", true}} {
		b.Run(backend.name, func(b *testing.B) { f(b, backend.moto) })
	}
}
