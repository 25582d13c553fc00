package fanout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/fanout"
	"annals/internal/kit/fanout/fanouttest"
	"annals/internal/kit/testlog"
)

// capture is an in-memory event store backend that keeps every item
// written, so tests get exactly the items the store writes to DynamoDB.
type capture struct {
	*eventstore.MemoryBackend
	mu    sync.Mutex
	items []eventstore.Item
}

func (c *capture) Write(ctx context.Context, writes []eventstore.Write, token string) error {
	if err := c.MemoryBackend.Write(ctx, writes, token); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range writes {
		c.items = append(c.items, w.Item)
	}
	return nil
}

// commits are the commit items written, in order.
func (c *capture) commits() []eventstore.Item {
	return c.where(func(err error) bool { return err == nil })
}

// others are the items of other kinds written (snapshots, guards), in
// order.
func (c *capture) others() []eventstore.Item {
	return c.where(func(err error) bool { return errors.Is(err, eventstore.ErrNotCommit) })
}

// where selects the items by what the store says of them as commits.
func (c *capture) where(keep func(decodeErr error) bool) []eventstore.Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []eventstore.Item
	for _, it := range c.items {
		if _, err := eventstore.DecodeCommit(it); keep(err) {
			out = append(out, it)
		}
	}
	return out
}

// otherItems writes, in a store of their own, a guarded commit and a
// snapshot after it, and returns the guard's item and the snapshot's: the
// items of the events table that are not commits.
func otherItems(t testing.TB) (guard, snapshot eventstore.Item) {
	t.Helper()
	store, items := newStore(eventstore.WithSnapshotEvery(1))
	counting := eventstore.NewAggregate(store, eventstore.Fold[int]{Name: "account", LogicVersion: 1, StateSchema: 1,
		Evolve: func(n int, _ eventstore.Event) (int, error) { return n + 1, nil }})
	cur := eventstore.Current[int]{Head: eventstore.NewStream(stream(t, "x"))}
	if _, _, err := counting.Append(context.Background(), cur, []eventstore.NewEvent{event("AccountOpened", `{}`)},
		eventstore.Metadata{}, &eventstore.Guard{Tenant: "acme", CommandID: "k"}); err != nil {
		t.Fatal(err)
	}
	// The guard is written with the commit, the snapshot after them.
	others := items.others()
	if len(others) != 2 {
		t.Fatalf("%d items of other kinds, want a guard and a snapshot", len(others))
	}
	return others[0], others[1]
}

func newStore(opts ...eventstore.Option) (*eventstore.Store, *capture) {
	c := &capture{MemoryBackend: eventstore.NewMemoryBackend()}
	n := 0
	clock := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	opts = append([]eventstore.Option{
		eventstore.WithIDs(func() string { n++; return fmt.Sprintf("id-%06d", n) }),
		eventstore.WithClock(func() time.Time { clock = clock.Add(time.Millisecond); return clock }),
	}, opts...)
	return eventstore.New(c, opts...), c
}

func stream(t testing.TB, id string) eventstore.StreamID {
	t.Helper()
	s, err := eventstore.NewStreamID("acme", "account", id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func event(typ, data string) eventstore.NewEvent {
	return eventstore.NewEvent{Type: typ, SchemaVersion: 1, Data: json.RawMessage(data),
		OccurredAt: time.Date(2026, 2, 28, 23, 59, 59, 5, time.UTC)}
}

// appendCommits appends one single-event commit to each of n streams.
func appendCommits(t testing.TB, s *eventstore.Store, n int) []eventstore.Committed {
	t.Helper()
	out := make([]eventstore.Committed, n)
	for i := range n {
		c, err := s.Append(context.Background(), eventstore.NewStream(stream(t, fmt.Sprintf("a%04d", i))),
			[]eventstore.NewEvent{event("AccountOpened", fmt.Sprintf(`{"n":%d}`, i))},
			eventstore.Metadata{CommandID: fmt.Sprintf("cmd-%d", i), Actor: "alice"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

// The stream records the fan-out receives, as every fan-out test has them.
var (
	record  = fanouttest.Record
	inserts = fanouttest.Inserts
)

// fakeKinesis stores what PutRecords sends, checks the service limits, and
// fails what answer says to fail.
type fakeKinesis struct {
	t      testing.TB
	mu     sync.Mutex
	calls  [][]types.PutRecordsRequestEntry
	stored []types.PutRecordsRequestEntry
	// deadlines are the calls' contexts' deadlines (zero: none).
	deadlines []time.Time
	// answer decides call n (from 1): a whole-request error, or for each
	// entry whether it fails.
	answer func(n int, entries []types.PutRecordsRequestEntry) (failed []bool, err error)
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, _ := ctx.Deadline()
	f.deadlines = append(f.deadlines, d)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.calls = append(f.calls, in.Records)
	total := 0
	for _, r := range in.Records {
		size := len(r.Data) + len(aws.ToString(r.PartitionKey))
		if size > fanout.MaxRecordBytes {
			f.t.Errorf("record of %d bytes over the 1 MiB limit", size)
		}
		total += size
	}
	if len(in.Records) > 500 || total > 5<<20 || len(in.Records) == 0 {
		f.t.Errorf("PutRecords with %d records, %d bytes: outside the service limits", len(in.Records), total)
	}
	var failed []bool
	if f.answer != nil {
		var err error
		if failed, err = f.answer(len(f.calls), in.Records); err != nil {
			return nil, err
		}
	}
	out := &kinesis.PutRecordsOutput{}
	for i, r := range in.Records {
		if i < len(failed) && failed[i] {
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("slow down")})
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			continue
		}
		f.stored = append(f.stored, r)
		out.Records = append(out.Records, types.PutRecordsResultEntry{
			SequenceNumber: aws.String(strconv.Itoa(len(f.stored))), ShardId: aws.String("shardId-000000000000")})
	}
	return out, nil
}

func (f *fakeKinesis) storedKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.stored {
		out = append(out, aws.ToString(r.PartitionKey))
	}
	return out
}

// lines decodes the handler's log lines.
func lines(t testing.TB, l *testlog.Buffer) []map[string]any {
	t.Helper()
	out, err := l.Lines()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// summary is the invocation's one summary line.
func summary(t testing.TB, l *testlog.Buffer) map[string]any {
	t.Helper()
	for _, m := range lines(t, l) {
		if m["msg"] == "fanout" {
			return m
		}
	}
	t.Fatal("no summary log line")
	return nil
}

func newHandler(t testing.TB, k fanout.Kinesis) (*fanout.Handler, *testlog.Buffer) {
	logs := &testlog.Buffer{}
	return fanout.New(fanout.Config{
		Kinesis: k,
		Stream:  "events",
		Log:     slog.New(slog.NewJSONHandler(logs, nil)),
		Margin:  50 * time.Millisecond,
		Backoff: func(int) time.Duration { return time.Millisecond },
	}), logs
}

func deadline(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// compact is the event data as the envelope carries it.
func compact(t testing.TB, evs []eventstore.Event) []eventstore.Event {
	out := make([]eventstore.Event, len(evs))
	for i, e := range evs {
		var b bytes.Buffer
		if err := json.Compact(&b, e.Data); err != nil {
			t.Fatal(err)
		}
		e.Data = b.Bytes()
		e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
		out[i] = e
	}
	return out
}
