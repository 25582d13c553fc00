package eventstore_test

import (
	"fmt"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/storetest"
)

// What a ledger-like account costs to read, counted by the Meter, at stream
// lengths from ten events to a hundred thousand: a load is the head item,
// a state at a version one Query, a state as of any time two Queries and
// at most 4 read units, and a command's writes no more than 10% above the
// 1.02 write units they cost before the state and the time index.
func TestReadCostDoesNotGrowWithTheStream(t *testing.T) {
	for _, length := range []int64{10, 10_000, 100_000} {
		t.Run(fmt.Sprint(length), func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			now := start
			clock := func() time.Time { now = now.Add(time.Second); return now }
			store := storetest.BenchStore(eventstore.NewMemoryBackend(), eventstore.WithClock(clock))
			agg := eventstore.NewAggregate(store, storetest.BenchFold(1, nil))
			stream := storetest.BenchStream(t, "cost")
			cur := storetest.BenchNew(stream)
			// Commits of ten events up to the last thousand, then of one,
			// as commands write them: the worst case for what a state as
			// of a time reads between two snapshots.
			if ten := max(length-1000, 0) / 10; ten > 0 {
				cur = storetest.BenchExtend(t.Context(), t, agg, cur, int(ten), 10)
			}
			m := &eventstore.Meter{}
			ctx := eventstore.WithMeter(t.Context(), m)
			singles := length - cur.Head.Version()
			cur = storetest.BenchExtend(ctx, t, agg, cur, int(singles), 1)
			if cur.Head.Version() != length {
				t.Fatalf("built %d events, want %d", cur.Head.Version(), length)
			}
			u := m.Usage()
			if per := u.WriteUnits / float64(singles); per > 1.02*1.1 {
				t.Errorf("a one-event command wrote %.3f units, more than 10%% above 1.02", per)
			}
			if u.Requests["Query"] != 0 || u.ReadUnits != 0 {
				t.Errorf("appends read: %v, %v read units", u.Requests, u.ReadUnits)
			}
			last := cur.Head.RecordedAt()

			measure := func(name string, op func() (int64, int64, error), wantVersion, wantQueries int64, maxUnits float64) {
				t.Helper()
				m := &eventstore.Meter{}
				ctx = eventstore.WithMeter(t.Context(), m)
				v, balance, err := op()
				if wantVersion == 0 {
					if !eventstore.IsNotFound(err) {
						t.Errorf("%s: %v, want not found", name, err)
					}
				} else if err != nil || v != wantVersion || balance != 1250*wantVersion {
					t.Errorf("%s: version %d balance %d (%v), want version %d balance %d", name, v, balance, err, wantVersion, 1250*wantVersion)
				}
				u := m.Usage()
				if int64(u.Requests["Query"]) != wantQueries || u.Total() != int(wantQueries) || u.ReadUnits > maxUnits {
					t.Errorf("%s cost %v and %v read units, want %d Queries and at most %v units", name, u.Requests, u.ReadUnits, wantQueries, maxUnits)
				}
			}
			load := func() (int64, int64, error) {
				c, err := agg.Load(ctx, stream)
				return c.Head.Version(), c.State.Balance, err
			}
			at := func(v int64) func() (int64, int64, error) {
				return func() (int64, int64, error) {
					p, err := agg.At(ctx, stream, v)
					return p.Version, p.State.Balance, err
				}
			}
			asOf := func(when time.Time) func() (int64, int64, error) {
				return func() (int64, int64, error) {
					p, err := agg.AsOf(ctx, stream, when)
					return p.Version, p.State.Balance, err
				}
			}
			measure("load", load, length, 1, 1)
			measure("state at the head", at(length), length, 1, 1)
			measure("state at version 1", at(1), 1, 1, 1)
			measure("state in the middle", at(length/2+3), length/2+3, 1, 1)

			// The last commit's time is that of its last event; each
			// commit took a second. Between two snapshots: the event 5
			// before a multiple of K, on one-event commits.
			measure("as of before the first event", asOf(start), 0, 2, 4)
			measure("as of the zero time", asOf(time.Time{}), 0, 2, 4)
			mid := length - 5
			measure("as of between snapshots", asOf(last.Add(-5*time.Second)), mid, 2, 4)
			measure("as of a snapshot", asOf(last.Add(-10*time.Second)), length-10, 2, 4)
			measure("as of just after a snapshot", asOf(last.Add(-9*time.Second).Add(-time.Nanosecond)), length-10, 2, 4)
			measure("as of the head", asOf(last), length, 2, 4)
			measure("as of after the head", asOf(last.Add(time.Hour)), length, 2, 4)
			if length > 1000 {
				// Among the ten-event commits.
				first := last.Add(-time.Duration(singles) * time.Second)
				measure("as of among ten-event commits", asOf(first.Add(-25*time.Second)), length-singles-250, 2, 4)
			}
		})
	}
}
