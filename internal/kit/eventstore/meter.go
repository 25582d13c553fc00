package eventstore

import (
	"context"
	"maps"
	"sync"
)

// Meter counts the backend requests and the DynamoDB capacity spent on behalf
// of one operation (a command, a query, a benchmark). Capacity is computed
// from item sizes by DynamoDB's documented rules, the same on every backend.
type Meter struct {
	mu         sync.Mutex
	requests   map[string]int
	readUnits  float64
	writeUnits float64
}

// Usage is a snapshot of a Meter.
type Usage struct {
	Requests   map[string]int // by API operation: "PutItem", "Query", ...
	ReadUnits  float64
	WriteUnits float64
}

// Total is the number of requests of every kind.
func (u Usage) Total() int {
	n := 0
	for _, c := range u.Requests {
		n += c
	}
	return n
}

type meterKey struct{}

// WithMeter returns a context whose backend requests are counted in m.
func WithMeter(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// Record adds one request and its capacity to the meter in ctx, if any.
// Backends call it once per request sent.
func Record(ctx context.Context, operation string, readUnits, writeUnits float64) {
	m, _ := ctx.Value(meterKey{}).(*Meter)
	if m == nil {
		return
	}
	m.AddRequest(operation)
	m.AddCapacity(readUnits, writeUnits)
}

// RecordRead adds one read request (GetItem, Query, Scan) to the meter in
// ctx, if any, with what DynamoDB bills it: the total size of the items it
// returned (none when it failed), by ReadUnits.
func RecordRead(ctx context.Context, operation string, items []Item, consistent bool) {
	bytes := 0
	for _, it := range items {
		bytes += ItemSize(it)
	}
	Record(ctx, operation, ReadUnits(bytes, consistent), 0)
}

// AddRequest counts one request of the operation.
func (m *Meter) AddRequest(operation string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.requests == nil {
		m.requests = map[string]int{}
	}
	m.requests[operation]++
}

// AddCapacity adds capacity units spent.
func (m *Meter) AddCapacity(readUnits, writeUnits float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readUnits += readUnits
	m.writeUnits += writeUnits
}

// Usage returns what the meter has counted so far.
func (m *Meter) Usage() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Usage{Requests: maps.Clone(m.requests), ReadUnits: m.readUnits, WriteUnits: m.writeUnits}
}

// ReadUnits is DynamoDB's read capacity for reading bytes in one request:
// one unit per 4 KB (rounded up, at least one) when strongly consistent,
// half that when eventually consistent.
func ReadUnits(bytes int, consistent bool) float64 {
	units := float64(max((bytes+4095)/4096, 1))
	if !consistent {
		units /= 2
	}
	return units
}

// WriteUnits is DynamoDB's write capacity for putting these items in one
// request: one unit per 1 KB of each item (rounded up, at least one), twice
// that inside a transaction.
func WriteUnits(items []Item, transactional bool) float64 {
	units := 0.0
	for _, it := range items {
		units += float64(max((ItemSize(it)+1023)/1024, 1))
	}
	if transactional {
		units *= 2
	}
	return units
}
