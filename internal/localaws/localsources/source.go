package localsources

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"annals/internal/localaws/samtemplate"
)

// JSONHandler adapts a typed handler (e.g. one taking events.DynamoDBEvent
// and returning events.DynamoDBEventResponse) to a Handler.
func JSONHandler[E, R any](f func(context.Context, E) (R, error)) Handler {
	return func(ctx context.Context, event []byte) ([]byte, error) {
		var e E
		if err := json.Unmarshal(event, &e); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		r, err := f(ctx, e)
		if err != nil {
			return nil, err
		}
		return json.Marshal(r)
	}
}

// readAhead is the least number of records asked of a shard at once.
const readAhead = 1000

// record is one stream record read from a shard.
type record struct {
	seq     string
	arrival time.Time // when it was read, for the batching window
	// event is the record as Lambda delivers it
	// (events.DynamoDBEventRecord or events.KinesisEventRecord).
	event any
}

// reader reads one shard.
type reader interface {
	id() string
	// read returns the next records (at most limit), each with the JSON
	// form the filters see, and whether the shard is closed.
	read(ctx context.Context, limit int) (recs []record, docs []any, millisBehind int64, closed bool, err error)
}

// kindOps is what differs between DynamoDB and Kinesis sources.
type kindOps interface {
	// open finds the shards of the source.
	open(ctx context.Context) (arn string, shards []reader, err error)
	// event wraps records as the event a handler receives.
	event(recs []record) any
	maxLimit() int
}

// shard is the position of one shard: records read and not yet delivered
// are kept in order, so resending from a sequence number needs no new
// iterator.
type shard struct {
	r        reader
	buf      []record
	closed   bool
	caughtUp bool // the last read returned nothing new
	retries  int  // failed attempts of the batch at the head of buf
	limit    int  // batch size now (halved when bisecting)
}

type source struct {
	es      samtemplate.EventSource
	cfg     Config
	ops     kindOps
	filters []*Filter
	queue   string // the OnFailure queue's physical name

	step   sync.Mutex // one poll at a time (Run and Drain share the shards)
	arn    string
	shards []*shard

	mu sync.Mutex // guards st
	st Stats
}

func newSource(c Config, es samtemplate.EventSource) (*source, error) {
	s := &source{es: es, cfg: c}
	for _, p := range es.Filters {
		f, err := CompileFilter(p)
		if err != nil {
			return nil, err
		}
		s.filters = append(s.filters, f)
	}
	name, ok := c.Names[es.Source]
	if !ok {
		return nil, fmt.Errorf("no physical name for %s", es.Source)
	}
	if es.OnFailure != "" {
		if s.queue, ok = c.Names[es.OnFailure]; !ok {
			return nil, fmt.Errorf("no physical name for %s", es.OnFailure)
		}
		if c.SQS == nil {
			return nil, fmt.Errorf("an OnFailure destination needs an SQS client")
		}
	}
	switch es.Kind {
	case samtemplate.KindDynamoDB:
		if c.DynamoDB == nil || c.Streams == nil {
			return nil, fmt.Errorf("a DynamoDB source needs DynamoDB and Streams clients")
		}
		s.ops = &dynamoOps{db: c.DynamoDB, streams: c.Streams, table: name, start: es.StartingPosition}
	case samtemplate.KindKinesis:
		if c.Kinesis == nil {
			return nil, fmt.Errorf("a Kinesis source needs a Kinesis client")
		}
		s.ops = &kinesisOps{k: c.Kinesis, stream: name, start: es.StartingPosition}
	default:
		return nil, fmt.Errorf("unknown kind %q", es.Kind)
	}
	s.st = Stats{Function: es.Function, Event: es.Event, Kind: es.Kind, Source: name}
	return s, nil
}

func (s *source) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *source) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
}

// poll reads and delivers on every shard once; it reports whether every
// shard is idle.
func (s *source) poll(ctx context.Context, h Handler, timeout time.Duration, log *slog.Logger) (bool, error) {
	if s.shards == nil {
		arn, readers, err := s.ops.open(ctx)
		if err != nil {
			return false, err
		}
		s.arn = arn
		for _, r := range readers {
			s.shards = append(s.shards, &shard{r: r, limit: s.es.BatchSize})
		}
		s.count(func(st *Stats) { st.Shards = len(readers) })
	}
	idle := true
	for _, sh := range s.shards {
		if err := s.read(ctx, sh); err != nil {
			return false, fmt.Errorf("shard %s: %w", sh.r.id(), err)
		}
		for s.ready(sh) {
			ok, err := s.deliver(ctx, sh, h, timeout, log)
			if err != nil {
				return false, fmt.Errorf("shard %s: %w", sh.r.id(), err)
			}
			if !ok {
				break // retried on the next poll
			}
		}
		idle = idle && len(sh.buf) == 0 && (sh.caughtUp || sh.closed)
	}
	var behind int64
	for _, sh := range s.shards {
		behind += int64(len(sh.buf))
	}
	s.count(func(st *Stats) { st.Behind = behind })
	return idle, nil
}

// read fetches the shard's next records when fewer than a batch are kept.
func (s *source) read(ctx context.Context, sh *shard) error {
	if sh.closed || len(sh.buf) >= s.es.BatchSize {
		return nil
	}
	// Read ahead of the batch, as Lambda does, so that the records the
	// filters drop do not shrink the batches.
	recs, docs, behind, closed, err := sh.r.read(ctx, min(max(s.es.BatchSize, readAhead), s.ops.maxLimit()))
	if err != nil {
		return err
	}
	sh.closed = closed
	sh.caughtUp = len(recs) == 0 && behind == 0
	var filtered int64
	now := time.Now()
	for i, rec := range recs {
		if !matchAny(s.filters, docs[i]) {
			filtered++
			continue
		}
		rec.arrival = now
		sh.buf = append(sh.buf, rec)
	}
	s.count(func(st *Stats) {
		st.Seen += int64(len(recs))
		st.Filtered += filtered
		st.MillisBehind = behind
	})
	return nil
}

// ready tells whether a batch is due: full, or the shard has nothing more
// for now, or the batching window has passed since its first record.
func (s *source) ready(sh *shard) bool {
	if len(sh.buf) == 0 {
		return false
	}
	window := time.Duration(s.es.MaximumBatchingWindowInSeconds) * time.Second
	return len(sh.buf) >= sh.limit || sh.caughtUp || sh.closed || time.Since(sh.buf[0].arrival) >= window
}

// batchResponse is the part of DynamoDBEventResponse and
// KinesisEventResponse that names the records to resend.
type batchResponse struct {
	BatchItemFailures []struct {
		ItemIdentifier *string `json:"itemIdentifier"`
	} `json:"batchItemFailures"`
}

// deliver invokes the handler with the batch at the head of the shard and
// reports whether the whole batch is done with (delivered or given up on).
func (s *source) deliver(ctx context.Context, sh *shard, h Handler, timeout time.Duration, log *slog.Logger) (bool, error) {
	batch := sh.buf[:min(len(sh.buf), sh.limit)]
	payload, err := json.Marshal(s.ops.event(batch))
	if err != nil {
		return false, fmt.Errorf("encode event: %w", err)
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	out, herr := h(ictx, payload)
	cancel()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	s.count(func(st *Stats) { st.Invocations++ })

	// failedAt is the index of the first record to resend; len(batch)
	// when every record succeeded.
	failedAt, reason := len(batch), ""
	if herr != nil {
		failedAt, reason = 0, "function error: "+herr.Error()
	} else if s.es.ReportsBatchItemFailures() {
		failedAt, reason = firstFailed(batch, out)
	}
	if failedAt > 0 {
		sh.buf = sh.buf[failedAt:]
		sh.retries = 0 // the record now at the head has its own retries
		s.count(func(st *Stats) { st.Delivered += int64(failedAt) })
	}
	if failedAt == len(batch) {
		sh.limit = s.es.BatchSize
		return true, nil
	}

	rest := batch[failedAt:]
	if maxRetries := s.es.MaximumRetryAttempts; maxRetries < 0 || sh.retries < maxRetries {
		sh.retries++
		if herr != nil && s.es.BisectBatchOnFunctionError && len(rest) > 1 {
			sh.limit = (len(rest) + 1) / 2
		}
		s.count(func(st *Stats) { st.Retries++ })
		log.WarnContext(ctx, "local event source batch failed; retrying", "function", s.es.Function,
			"shard", sh.r.id(), "firstSequenceNumber", rest[0].seq, "records", len(rest), "retry", sh.retries, "reason", reason)
		return false, nil
	}

	if err := s.giveUp(ctx, sh, rest, sh.retries+1, reason, herr != nil, log); err != nil {
		return false, err
	}
	sh.buf = sh.buf[len(rest):]
	sh.retries = 0
	sh.limit = s.es.BatchSize
	s.count(func(st *Stats) { st.Failed += int64(len(rest)) })
	return true, nil
}

// firstFailed reads a ReportBatchItemFailures response: the lowest reported
// record is resent with everything after it. A response that does not
// decode, or names a record not in the batch, fails the whole batch, as
// Lambda does.
func firstFailed(batch []record, out []byte) (int, string) {
	if len(out) == 0 || string(out) == "null" {
		return len(batch), ""
	}
	var resp batchResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, "unreadable response: " + err.Error()
	}
	first := len(batch)
	for _, f := range resp.BatchItemFailures {
		id := ""
		if f.ItemIdentifier != nil {
			id = *f.ItemIdentifier
		}
		i := indexOf(batch, id)
		if i < 0 {
			return 0, fmt.Sprintf("reported item %q is not in the batch", id)
		}
		first = min(first, i)
	}
	if first < len(batch) {
		return first, "reported failed item " + batch[first].seq
	}
	return first, ""
}

func indexOf(batch []record, seq string) int {
	for i, r := range batch {
		if seq != "" && r.seq == seq {
			return i
		}
	}
	return -1
}
