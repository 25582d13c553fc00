package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"testing"

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
