// Package localsources runs template.yaml's stream event sources (DynamoDB
// Streams and Kinesis) against the local AWS servers, in-process, the way
// Lambda's event source mappings would: it polls every shard, drops the
// records the FilterCriteria reject, invokes the function's handler with
// batches of at most BatchSize records, resends from the sequence number a
// handler reports as failed, and after MaximumRetryAttempts sends a record
// of the batch to the OnFailure queue and moves past it.
//
// Each source polls on its own, as a mapping does: a source with records
// left polls again at once, one that is caught up waits Interval, doubled
// at each poll that finds nothing up to eight Intervals, and any source's
// delivery wakes the others at once. It polls
// with short, plain GetRecords calls and never long-polls: the local server
// answers one request at a time. An iterator that expired (a stack
// suspended past its lifetime) is renewed after the last record read.
//
// Locally each shard has one batch in flight (ParallelizationFactor 1),
// records never expire out of a mapping (MaximumRecordAgeInSeconds is not
// applied), a batching window ends early once a shard is caught up, and the
// shards are listed once, at the first poll (resharding is not followed).
package localsources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/localaws/samtemplate"
)

// Handler is a function invoked with an event's JSON, returning the
// response's JSON, as Lambda's Invoke API does; a Go handler is adapted with
// JSONHandler, and an emulator's invoke fits as it is.
type Handler func(ctx context.Context, event []byte) ([]byte, error)

// DynamoDB is the part of the DynamoDB client used to find a table's stream.
type DynamoDB interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Streams is the part of the DynamoDB Streams client the pollers use.
type Streams interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Kinesis is the part of the Kinesis client the pollers use.
type Kinesis interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// SQS is the part of the SQS client that sends failure records.
type SQS interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// DefaultInterval is the pause between polls of a shard that is caught up
// or whose last batch failed.
const DefaultInterval = 100 * time.Millisecond

// idleBackoff bounds how far the pause grows while a source stays caught
// up: up to this many Intervals.
const idleBackoff = 8

// DefaultTimeout bounds one invocation when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config wires a Runner. Only the clients of the kinds of sources run are
// needed (DynamoDB and Streams for DynamoDB sources, Kinesis for Kinesis
// sources, SQS for sources with an OnFailure destination).
type Config struct {
	Sources []samtemplate.EventSource
	// Names maps the logical ids of the template's tables, streams and
	// queues to the physical names they were created under.
	Names    map[string]string
	DynamoDB DynamoDB
	Streams  Streams
	Kinesis  Kinesis
	SQS      SQS
	// Interval between polls; DefaultInterval when zero.
	Interval time.Duration
	// Timeout of one invocation; DefaultTimeout when zero.
	Timeout time.Duration
	Log     *slog.Logger
}

// Runner polls the event sources and invokes the registered handlers.
type Runner struct {
	cfg      Config
	log      *slog.Logger
	sources  []*source
	mu       sync.Mutex // guards handlers and activity
	handlers map[string]Handler
	// activity is closed (and replaced) when a source delivers records,
	// to wake the others: what one delivers is often what the next reads.
	activity chan struct{}
}

// New checks the sources (their filters compile, their resources are named)
// and returns a Runner. Handlers are registered before Run or Drain.
func New(c Config) (*Runner, error) {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	r := &Runner{cfg: c, log: c.Log, handlers: map[string]Handler{}, activity: make(chan struct{})}
	if r.log == nil {
		r.log = slog.Default()
	}
	for _, es := range c.Sources {
		s, err := newSource(c, es)
		if err != nil {
			return nil, fmt.Errorf("%s event %s: %w", es.Function, es.Event, err)
		}
		r.sources = append(r.sources, s)
	}
	return r, nil
}

// Register sets the handler invoked for the function with the given
// logical id. Sources of functions without a handler are not polled.
func (r *Runner) Register(function string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[function] = h
}

func (r *Runner) handler(function string) Handler {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handlers[function]
}

// Run polls until ctx is cancelled, then returns nil. Each source polls on
// its own, as Lambda's event source mappings do, so a slow consumer never
// delays another; a source with records left polls again at once, and one
// that is caught up waits Interval, longer while it stays caught up. A
// failing AWS call is logged and retried on the next poll.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range r.sources {
		wg.Go(func() {
			pause := r.cfg.Interval
			for {
				idle, err := r.pollSource(ctx, s)
				if err != nil && ctx.Err() == nil {
					r.log.ErrorContext(ctx, "local event source poll failed; retrying", "function", s.es.Function, "event", s.es.Event, "error", err.Error())
				}
				if !idle && err == nil {
					if ctx.Err() != nil {
						return
					}
					r.wakeOthers()
					pause = r.cfg.Interval
					continue
				}
				woken, err := r.sleep(ctx, pause)
				if err != nil {
					return
				}
				// A source that stays caught up polls less and less often,
				// as a mapping on an idle shard does: an idle stack must not
				// keep the one-request-at-a-time server busy. Another
				// source's delivery wakes it at once.
				switch {
				case woken:
					pause = r.cfg.Interval
				case idle:
					pause = min(2*pause, idleBackoff*r.cfg.Interval)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// Drain polls until every shard of every source with a handler is caught up
// and every batch delivered (or given up on), and returns nil; it returns
// the first AWS error, or an error when ctx ends first.
func (r *Runner) Drain(ctx context.Context) error {
	for {
		idle := true
		var errs []error
		for _, s := range r.sources {
			done, err := r.pollSource(ctx, s)
			if err != nil {
				errs = append(errs, err)
			}
			idle = idle && done
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("drain: %w", err)
		}
		if idle {
			return nil
		}
		if err := wait(ctx, r.cfg.Interval); err != nil {
			return fmt.Errorf("drain: not caught up: %w (%s)", err, r.describeBacklog())
		}
	}
}

func (r *Runner) describeBacklog() string {
	out := ""
	for _, st := range r.Stats() {
		out += fmt.Sprintf("%s/%s: %d behind, %d delivered, %d retries; ", st.Function, st.Event, st.Behind, st.Delivered, st.Retries)
	}
	return out
}

// wakeOthers wakes every source sleeping in sleep.
func (r *Runner) wakeOthers() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.activity)
	r.activity = make(chan struct{})
}

// sleep waits d, or until another source delivers records (woken), or
// until ctx ends (an error).
func (r *Runner) sleep(ctx context.Context, d time.Duration) (woken bool, err error) {
	r.mu.Lock()
	activity := r.activity
	r.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-activity:
		return true, nil
	case <-t.C:
		return false, nil
	}
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pollSource runs one round over the source's shards and reports whether
// it is idle (caught up, nothing left to deliver); a source without a
// handler, or disabled, is idle.
func (r *Runner) pollSource(ctx context.Context, s *source) (bool, error) {
	h := r.handler(s.es.Function)
	if h == nil || !s.es.Enabled {
		return true, nil
	}
	s.step.Lock()
	defer s.step.Unlock()
	idle, err := s.poll(ctx, h, r.cfg.Timeout, r.log)
	if err != nil {
		return false, fmt.Errorf("%s event %s: %w", s.es.Function, s.es.Event, err)
	}
	return idle, nil
}

// Stats are the counters of one event source, for a status display.
type Stats struct {
	Function string
	Event    string
	Kind     samtemplate.SourceKind
	Source   string // the physical table or stream name
	Shards   int
	// Seen counts records read from the stream; Filtered those the
	// filters dropped; Delivered those a handler accepted; Failed those
	// given up on after the retries (sent to the OnFailure queue).
	Seen, Filtered, Delivered, Failed int64
	// Invocations counts handler calls, Retries the failed ones retried.
	Invocations, Retries int64
	// Behind counts records read and kept but not yet delivered.
	Behind int64
	// MillisBehind is the last MillisBehindLatest Kinesis reported (the
	// iterator age); always 0 for DynamoDB streams.
	MillisBehind int64
}

// Stats returns the counters of every source, in the order of the config.
func (r *Runner) Stats() []Stats {
	out := make([]Stats, 0, len(r.sources))
	for _, s := range r.sources {
		out = append(out, s.stats())
	}
	return out
}
