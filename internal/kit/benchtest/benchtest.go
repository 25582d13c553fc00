// Package benchtest counts what one request to a Lambda handler costs in
// DynamoDB requests, three ways that must agree: where the requests reach
// the handler's stores, on the wire to the server (against moto), and in the
// handler's own log line per request (what its Meter saw). A benchmark that
// uses it stops when the counts disagree with each other or with what the
// design says the request sends.
package benchtest

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

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

// Handler is what is counted of one handler under a benchmark.
type Handler struct {
	// Logged adds up the handler's request lines.
	Logged *httpapitest.LineCounter
	// Metered are the stores that report every request to the handler's
	// Meter; Unmetered those that do only on DynamoDB, not in memory.
	Metered, Unmetered []*Calls
	// Wire is the connection to the server; nil in memory.
	Wire Wire
}

// Start forgets what setting up the benchmark sent.
func (h Handler) Start() {
	for _, c := range h.stores() {
		c.Take()
	}
	h.Logged.Take()
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
	// Logged is what the handler's log lines add up to.
	Logged httpapitest.Sums
}

// Check checks that the stores, the wire and the handler's log lines agree
// on what b.N requests sent since Start, and that it is what the design
// says (want, in all), then reports it per request: req/op, one <op>/op per
// operation and, against moto, http-req/op.
func (h Handler) Check(b *testing.B, want map[string]int) Counted {
	b.Helper()
	c := Counted{Sent: map[string]int{}, Spent: map[string]time.Duration{}}
	metered := 0
	for i, calls := range h.stores() {
		n, d := calls.Take()
		for op, k := range n {
			c.Sent[op] += k
			c.Spent[op] += d[op]
		}
		if i < len(h.Metered) {
			metered += Total(n)
		}
	}
	c.Logged = h.Logged.Take()
	if len(c.Logged.Warnings) > 0 {
		b.Fatalf("the handler logged warnings: %q", c.Logged.Warnings)
	}
	if c.Logged.Lines != b.N {
		b.Fatalf("%d log lines for %d requests", c.Logged.Lines, b.N)
	}
	n := float64(b.N)
	if h.Wire != nil {
		wire := h.Wire.Counts()
		if !maps.Equal(c.Sent, wire) {
			b.Fatalf("the stores sent %v, the wire carried %v", c.Sent, wire)
		}
		// On DynamoDB every store reports to the Meter.
		metered = Total(wire)
		b.ReportMetric(float64(metered)/n, "http-req/op")
	}
	if c.Logged.Requests != int64(metered) {
		b.Fatalf("the handler's log lines count %d requests, the stores that report to its Meter received %d (%v in all)", c.Logged.Requests, metered, c.Sent)
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
