package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/kit/envelope"
	"annals/internal/ledger/env"
)

// tail follows the events stream: one line per event of every record, in
// each shard's order, until interrupted or --limit events.
func (c cli) tail(ctx context.Context, args []string) error {
	fs := c.flags("tail")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: annals tail [--from latest|trim-horizon|TIME] [--limit N] [flags]

Follows the events stream (the public envelope, docs/events.md), one line
per event: recorded time, stream, version, type, correlation id. It reads
every shard once per --poll, and so takes a share of the five reads per
second a shard serves to all its consumers (the projector and the
transfers process manager among them). Ctrl-C stops it.

flags:
`)
		fs.PrintDefaults()
	}
	from := fs.String("from", "latest", "where to start in each shard: latest (what arrives from now on), trim-horizon (the oldest record kept) or an RFC 3339 time")
	limit := fs.Int("limit", 0, "stop after this many events (0: until interrupted)")
	poll := fs.Duration("poll", time.Second, "how often each shard is read while it has nothing new")
	stream := fs.String("kinesis-stream", c.envDefault(env.StreamName), "the events stream's name (default $STREAM_NAME)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("tail: unexpected arguments %q", fs.Args())
	}
	start, err := parseFrom(*from)
	if err != nil {
		return err
	}
	if *limit < 0 || *poll < 200*time.Millisecond {
		return usagef("tail: --limit must not be negative and --poll must be at least 200ms (a shard serves five reads a second to all its readers)")
	}
	if err := required(fs, map[string]string{"kinesis-stream": env.StreamName}, "kinesis-stream"); err != nil {
		return err
	}
	cfg, err := defaultchain.Load(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	t := &tailer{kin: kinesis.NewFromConfig(cfg), stream: *stream, start: start, limit: *limit, out: c.stdout}
	began := time.Now()
	err = t.run(ctx, *poll)
	fmt.Fprintf(c.stderr, "tail: %d event(s) in %d record(s) from %d shard(s) of %s in %s\n",
		t.events, t.records, len(t.seen), *stream, time.Since(began).Round(time.Millisecond))
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // interrupted: the way a tail ends
	}
	return err
}

// startAt is where a tail begins in each shard.
type startAt struct {
	kind types.ShardIteratorType
	at   time.Time
}

func parseFrom(v string) (startAt, error) {
	switch strings.ToLower(v) {
	case "latest":
		return startAt{kind: types.ShardIteratorTypeLatest}, nil
	case "trim-horizon":
		return startAt{kind: types.ShardIteratorTypeTrimHorizon}, nil
	}
	at, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return startAt{}, usagef("tail: --from %q is not latest, trim-horizon or an RFC 3339 time", v)
	}
	return startAt{kind: types.ShardIteratorTypeAtTimestamp, at: at}, nil
}

// tailer reads every shard of a stream in turn.
type tailer struct {
	kin    *kinesis.Client
	stream string
	start  startAt
	limit  int
	out    io.Writer

	// iterators holds each open shard's next iterator; seen every shard
	// ever followed.
	iterators       map[string]*string
	seen            map[string]bool
	records, events int
}

// errLimit ends a tail that printed --limit events.
var errLimit = errors.New("limit reached")

func (t *tailer) run(ctx context.Context, poll time.Duration) error {
	t.iterators, t.seen = map[string]*string{}, map[string]bool{}
	if err := t.follow(ctx, "", t.start); err != nil {
		return err
	}
	for {
		behind := false
		for _, shard := range slices.Sorted(maps.Keys(t.iterators)) {
			b, err := t.read(ctx, shard)
			if errors.Is(err, errLimit) {
				return nil
			}
			if err != nil {
				return err
			}
			behind = behind || b
		}
		if len(t.iterators) == 0 {
			return fmt.Errorf("tail %s: every shard is closed and none follows", t.stream)
		}
		// A shard with more to read is read again soon, within what it
		// serves; one that is caught up, every poll.
		wait := poll
		if behind {
			wait = catchUpEvery
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// catchUpEvery spaces the reads of a shard that has more to read: one
// reader of the five a second a shard serves.
const catchUpEvery = 200 * time.Millisecond

// follow starts following the shards not followed yet: all of them at
// first (parent ""), then the children of a shard that closed, from their
// start.
func (t *tailer) follow(ctx context.Context, parent string, start startAt) error {
	in := &kinesis.ListShardsInput{StreamName: aws.String(t.stream)}
	for {
		page, err := t.kin.ListShards(ctx, in)
		if err != nil {
			return fmt.Errorf("tail %s: list shards: %w", t.stream, err)
		}
		for _, s := range page.Shards {
			id := aws.ToString(s.ShardId)
			if t.seen[id] || parent != "" && aws.ToString(s.ParentShardId) != parent && aws.ToString(s.AdjacentParentShardId) != parent {
				continue
			}
			it, err := t.kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
				StreamName: aws.String(t.stream), ShardId: s.ShardId, ShardIteratorType: start.kind, Timestamp: timestamp(start),
			})
			if err != nil {
				return fmt.Errorf("tail %s: shard %s: %w", t.stream, id, err)
			}
			t.seen[id], t.iterators[id] = true, it.ShardIterator
		}
		if page.NextToken == nil {
			return nil
		}
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
}

func timestamp(s startAt) *time.Time {
	if s.kind != types.ShardIteratorTypeAtTimestamp {
		return nil
	}
	return aws.Time(s.at)
}

// read prints what one GetRecords of the shard returns and moves its
// iterator on; a shard that closed is replaced by its children. It
// reports whether the shard has more to read at once.
func (t *tailer) read(ctx context.Context, shard string) (behind bool, err error) {
	out, err := t.kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: t.iterators[shard], Limit: aws.Int32(1000)})
	if err != nil {
		return false, fmt.Errorf("tail %s: shard %s: %w", t.stream, shard, err)
	}
	for _, r := range out.Records {
		t.records++
		if err := t.print(r); err != nil {
			return false, err
		}
	}
	if out.NextShardIterator == nil {
		delete(t.iterators, shard)
		return true, t.follow(ctx, shard, startAt{kind: types.ShardIteratorTypeTrimHorizon})
	}
	t.iterators[shard] = out.NextShardIterator
	return aws.ToInt64(out.MillisBehindLatest) > 0, nil
}

// print writes one line per event of a record: recorded time, stream,
// version, type and correlation id; a record that does not decode is one
// line saying so.
func (t *tailer) print(r types.Record) error {
	evs, err := envelope.Decode(r.Data)
	if err != nil {
		fmt.Fprintf(t.out, "%s  %s  (record %s does not decode: %v)\n",
			aws.ToTime(r.ApproximateArrivalTimestamp).UTC().Format(timeFormat), aws.ToString(r.PartitionKey), aws.ToString(r.SequenceNumber), err)
		return nil
	}
	for _, e := range evs {
		fmt.Fprintf(t.out, "%s  %s  v%d  %s  %s\n", e.RecordedAt.UTC().Format(timeFormat), e.Stream, e.Version, e.Type, dash(e.CorrelationID))
		t.events++
		if t.limit > 0 && t.events >= t.limit {
			return errLimit
		}
	}
	return nil
}
