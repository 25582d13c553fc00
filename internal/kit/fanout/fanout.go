// Package fanout owns the path from the events table's DynamoDB stream to
// Kinesis: it turns each commit insert into the public event envelope
// (docs/events.md) and puts it on the events stream, partitioned by stream
// key. It never drops a commit: failed puts are retried until the function
// is about to time out, then the first unsent record is reported back to the
// event source mapping, which resends it and everything after it. A commit
// that can never be sent (it does not decode, or is over the record limit)
// is skipped only once a letter naming it is on the skipped-commits queue,
// from which a redrive republishes it (skipped.go).
package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
)

// Kinesis PutRecords limits.
const (
	MaxRecordsPerRequest = 500
	MaxBytesPerRequest   = 5 << 20
	// MaxRecordBytes bounds one record: its data plus its partition key.
	MaxRecordBytes = 1 << 20
)

// DefaultMargin is the time kept before the invocation's deadline to answer
// the event source mapping instead of retrying once more.
const DefaultMargin = 2 * time.Second

// Kinesis is the part of the Kinesis client the fan-out uses.
type Kinesis interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Config wires a Handler.
type Config struct {
	Kinesis Kinesis
	Stream  string // the Kinesis stream's name
	// Skipped is where Handle records each commit it cannot send (a
	// Skipped letter). Without it such a commit stops the batch, as an
	// unsent one does: it is never dropped unrecorded. Publish does not
	// use it.
	Skipped Queue
	Log     *slog.Logger
	// Margin before the context's deadline at which retrying stops;
	// DefaultMargin when zero.
	Margin time.Duration
	// Backoff is the wait before retry round n (from 1); exponential with
	// full jitter between 50 ms and 5 s when nil.
	Backoff func(n int) time.Duration
}

// Handler forwards commit inserts from the events table's stream.
type Handler struct {
	kinesis Kinesis
	stream  string
	skipped Queue
	log     *slog.Logger
	margin  time.Duration
	backoff func(int) time.Duration
}

// New returns a Handler.
func New(c Config) *Handler {
	h := &Handler{kinesis: c.Kinesis, stream: c.Stream, skipped: c.Skipped, log: c.Log, margin: c.Margin, backoff: c.Backoff}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.margin <= 0 {
		h.margin = DefaultMargin
	}
	if h.backoff == nil {
		h.backoff = Backoff
	}
	return h
}

// Backoff is exponential (50 ms doubling, capped at 5 s) with full jitter,
// so that concurrent shards do not retry in step.
func Backoff(n int) time.Duration {
	d := min(50*time.Millisecond<<min(n-1, 10), 5*time.Second)
	return d/2 + rand.N(d/2+1)
}

// entry is one commit's Kinesis record and the stream record it came from.
type entry struct {
	index int // in the batch
	seq   string
	key   string
	data  []byte
	// commit is what the record carries, for the line that says it was
	// sent (sent.go).
	commit []eventstore.Event
}

func (e entry) size() int { return len(e.data) + len(e.key) }

// tally is what one invocation did, logged as one line.
type tally struct {
	records, commits, dropped, poison, oversize, recorded, unrecorded, sent, requests, retries, unsent int
}

// Handle forwards the batch's commit inserts and reports the first record
// it could not send before the deadline, or could not skip, if any.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	start := time.Now()
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	t := tally{records: len(ev.Records)}
	entries, skips := h.entries(ctx, ev.Records, &t)

	// A skip that could not be recorded stops the batch there: what
	// follows it is sent again with it, so it is not sent now.
	if stop := h.record(ctx, skips, &t); stop != nil {
		entries = slices.DeleteFunc(entries, func(e entry) bool { return e.index > stop.index })
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: stop.seq})
	}
	t.commits = len(entries)

	unsent := h.send(ctx, entries, &t)
	t.unsent = len(unsent)
	if len(unsent) > 0 {
		// Every entry left comes before the stop, if there is one.
		first := slices.MinFunc(unsent, func(a, b entry) int { return a.index - b.index })
		resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: first.seq}}
		h.log.ErrorContext(ctx, "fanout stopped before the deadline with unsent commits; the batch resumes at the first of them",
			"sequenceNumber", first.seq, "stream", first.key, "unsent", len(unsent))
	}
	level := slog.LevelInfo
	if t.poison+t.oversize+t.unsent > 0 {
		level = slog.LevelWarn
	}
	h.log.Log(ctx, level, "fanout",
		"records", t.records, "commits", t.commits, "sent", t.sent, "dropped", t.dropped,
		"poison", t.poison, "oversize", t.oversize, "recorded", t.recorded, "unrecorded", t.unrecorded,
		"requests", t.requests, "retries", t.retries,
		"unsent", t.unsent, "kinesisStream", h.stream, "ms", time.Since(start).Milliseconds())
	return resp, nil
}

// entries selects and encodes the commit inserts, in batch order: the store
// tells a commit from the table's other items. A record that cannot be
// forwarded at all (a commit that does not decode, or whose envelope is
// over Kinesis' record limit) is logged at ERROR with its sequence number
// and the commit's stream and version, and returned as a skip: retrying it
// could never succeed and would stall every commit behind it. The commit
// stays in the events table, from which a redrive republishes it
// (docs/operations.md).
func (h *Handler) entries(ctx context.Context, records []events.DynamoDBEventRecord, t *tally) ([]entry, []skip) {
	var out []entry
	var skips []skip
	for i, r := range records {
		seq := r.Change.SequenceNumber
		if r.EventName != string(events.DynamoDBOperationTypeInsert) {
			t.dropped++
			continue
		}
		it, err := Item(r.Change.NewImage)
		var evs []eventstore.Event
		if err == nil {
			evs, err = eventstore.DecodeCommit(it)
		}
		if errors.Is(err, eventstore.ErrNotCommit) {
			// A snapshot or a guard: the event source's filter keeps
			// them away, and without it they are dropped all the same.
			t.dropped++
			continue
		}
		var data []byte
		if err == nil {
			data, err = envelope.Encode(evs)
		}
		if err != nil {
			t.poison++
			stream, version := commitAt(r)
			h.log.ErrorContext(ctx, "fanout skipped a commit record that does not decode; republish it from the events table",
				"cause", CauseUndecodable, "sequenceNumber", seq, "stream", stream, "version", version,
				"eventID", r.EventID, "keys", keysOf(r), "error", err.Error())
			skips = append(skips, skip{index: i, seq: seq, letter: Skipped{
				Stream: stream, Version: version, Cause: CauseUndecodable, Reason: err.Error(), SequenceNumber: seq,
			}})
			continue
		}
		e := entry{index: i, seq: seq, key: evs[0].Stream.Key(), data: data, commit: evs}
		if e.size() > MaxRecordBytes {
			t.oversize++
			h.log.ErrorContext(ctx, "fanout skipped a commit whose envelope is over the Kinesis record limit; it is not split",
				"cause", CauseOversize, "sequenceNumber", seq, "stream", e.key, "version", evs[0].Version, "events", len(evs),
				"bytes", e.size(), "limit", MaxRecordBytes)
			skips = append(skips, skip{index: i, seq: seq, letter: Skipped{
				Stream: e.key, Version: evs[0].Version, Cause: CauseOversize, SequenceNumber: seq,
				Reason: fmt.Sprintf("envelope of %d events, %d bytes, is over the %d-byte record limit", len(evs), e.size(), MaxRecordBytes),
			}})
			continue
		}
		out = append(out, e)
	}
	return out, skips
}

// commitAt names the commit of a record that does not decode, from the
// record's keys (or its image): empty when neither says.
func commitAt(r events.DynamoDBEventRecord) (stream string, version int64) {
	for _, image := range []map[string]events.DynamoDBAttributeValue{r.Change.Keys, r.Change.NewImage} {
		it, err := Item(image)
		if err != nil {
			continue
		}
		if stream, version, err := eventstore.CommitAt(it); err == nil {
			return stream, version
		}
	}
	return "", 0
}

func keysOf(r events.DynamoDBEventRecord) map[string]string {
	out := map[string]string{}
	for k, v := range r.Change.Keys {
		switch v.DataType() {
		case events.DataTypeString:
			out[k] = v.String()
		case events.DataTypeNumber:
			out[k] = v.Number()
		}
	}
	return out
}

// send puts every entry, retrying failed ones in rounds with backoff until
// the deadline is near, and returns those still unsent.
//
// Within a round, once an entry of a partition key has failed, later entries
// of that key wait for the next round, so a stream's commits are not put out
// of order by a retry (best effort: one request's entries may still land in
// any order).
func (h *Handler) send(ctx context.Context, pending []entry, t *tally) []entry {
	callCtx, cancel := h.bounded(ctx)
	defer cancel()
	stop := func() bool { return callCtx.Err() != nil }
	for round := 0; len(pending) > 0; round++ {
		if round > 0 {
			t.retries++
			timer := time.NewTimer(h.backoff(round))
			select {
			case <-timer.C:
			case <-callCtx.Done():
				timer.Stop()
				return pending
			}
		}
		var next []entry
		blocked := map[string]bool{}
		rest := pending
		for len(rest) > 0 {
			if stop() {
				next = append(next, rest...)
				break
			}
			var chunk []entry
			size, i := 0, 0
			for ; i < len(rest) && len(chunk) < MaxRecordsPerRequest; i++ {
				e := rest[i]
				if blocked[e.key] {
					next = append(next, e)
					continue
				}
				if size+e.size() > MaxBytesPerRequest {
					break
				}
				chunk = append(chunk, e)
				size += e.size()
			}
			rest = rest[i:]
			if len(chunk) == 0 {
				continue
			}
			failed := h.put(callCtx, chunk, t)
			for _, e := range failed {
				blocked[e.key] = true
			}
			next = append(next, failed...)
		}
		slices.SortFunc(next, func(a, b entry) int { return a.index - b.index })
		pending = next
		if len(pending) > 0 && stop() {
			return pending
		}
	}
	return nil
}

// bounded is ctx less the margin before its deadline, if it has one: calls
// made under it leave the time to answer.
func (h *Handler) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, d.Add(-h.margin))
	}
	return context.WithCancel(ctx)
}

// put sends one request and returns the entries it did not store.
func (h *Handler) put(ctx context.Context, chunk []entry, t *tally) []entry {
	in := &kinesis.PutRecordsInput{StreamName: aws.String(h.stream), Records: make([]types.PutRecordsRequestEntry, len(chunk))}
	for i, e := range chunk {
		in.Records[i] = types.PutRecordsRequestEntry{Data: e.data, PartitionKey: aws.String(e.key)}
	}
	t.requests++
	out, err := h.kinesis.PutRecords(ctx, in)
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			level = slog.LevelInfo
		}
		h.log.Log(ctx, level, "fanout PutRecords failed; retrying its records", "records", len(chunk), "error", err.Error())
		return chunk
	}
	if len(out.Records) != len(chunk) {
		h.log.WarnContext(ctx, "fanout PutRecords answered for a different number of records; retrying them all",
			"sent", len(chunk), "answered", len(out.Records))
		return chunk
	}
	var failed []entry
	codes := map[string]int{}
	for i, r := range out.Records {
		if aws.ToString(r.ErrorCode) != "" || aws.ToString(r.SequenceNumber) == "" {
			failed = append(failed, chunk[i])
			codes[aws.ToString(r.ErrorCode)]++
			continue
		}
		h.sent(ctx, chunk[i], r)
	}
	t.sent += len(chunk) - len(failed)
	if len(failed) > 0 {
		h.log.WarnContext(ctx, "fanout PutRecords stored part of a request; retrying the rest",
			"records", len(chunk), "failed", len(failed), "failedRecordCount", aws.ToInt32(out.FailedRecordCount), "errorCodes", codes)
	}
	return failed
}
