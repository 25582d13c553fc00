// Package rebuild owns rebuilding a read model from the events table into a
// fresh table while the live one keeps serving (docs/operations.md).
//
// A rebuild scans the events table in parallel segments and hands each
// stream's commits, in version order, to the view's own projection over the
// fresh table: the same ordering core and the same fold as the projector,
// so the rebuilt view is what the domain's fold of the events gives. It then
// catches up: each stream seen is read past what the scan found, and a
// further scan pass, limited to commits recorded since the previous pass
// began (less a margin for clock skew), finds the streams created
// meanwhile. Passes repeat until one finds nothing new.
package rebuild

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
)

// The events table's attributes a scan filters on, as docs/eventstore.md
// lays the table out.
const (
	attrKind       = "kind"
	attrRecordedAt = "ra"
)

// Defaults of Config.
const (
	DefaultSegments  = 8
	DefaultMargin    = time.Minute
	DefaultMaxPasses = 5
)

// maxRun bounds the events handed to the view in one Apply: a stream's
// consecutive commits go together, so that a long stream costs one read and
// one write of the view per maxRun events instead of per commit.
const maxRun = 1000

// View is the read model being rebuilt, over the fresh table;
// *projection.Projection is one.
type View interface {
	Name() string
	// Apply applies consecutive events of one stream; duplicates are
	// skipped, gaps filled, poison quarantined.
	Apply(ctx context.Context, events []eventstore.Event) error
}

// DynamoDB is the part of the DynamoDB client that reads the events table.
type DynamoDB interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Config describes one rebuild.
type Config struct {
	DB          DynamoDB
	EventsTable string
	View        View
	// Category limits the rebuild to the streams the view holds ("" for
	// every stream).
	Category string
	// Segments is the number of parallel scan segments and catch-up
	// workers; DefaultSegments when zero.
	Segments int
	// Margin is how far before a pass's start the next pass looks, for
	// the writers' clock skew; DefaultMargin when zero.
	Margin time.Duration
	// MaxPasses bounds the scan passes when writes never pause;
	// DefaultMaxPasses when zero.
	MaxPasses int
	// Since, when set, makes the first pass read only commits recorded
	// from Since less Margin on: a resume over a table that already holds
	// everything before it (after the switch, for instance).
	Since time.Time
	// AfterScan, if set, runs after each pass's scan and before its
	// catch-up.
	AfterScan func(ctx context.Context, pass int) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Result is what a rebuild did.
type Result struct {
	Started time.Time
	Elapsed time.Duration
	// CaughtUpTo is when the last pass began: every commit recorded
	// before it (with clock skew within the margin) is in the view.
	CaughtUpTo time.Time
	Passes     int
	// Settled is true when the last pass found nothing new; false when
	// MaxPasses ended a rebuild that writes kept busy.
	Settled bool
	Streams int   // streams of the view's category seen
	Commits int   // commits handed to the view
	Events  int   // their events
	Scanned int64 // items the scans read, every pass
	// StreamKeys lists the streams seen, for a verification.
	StreamKeys []eventstore.StreamID
}

// Progress is where a running rebuild stands.
type Progress struct {
	Phase    string // "scan" or "catch-up"
	Pass     int
	Scanned  int64 // items read by this pass's scan
	Estimate int64 // the table's item count as DescribeTable reports it (refreshed by DynamoDB about every six hours), 0 when unknown
	Streams  int64
	Commits  int64
	Events   int64
}

// Rebuild is one rebuild; Progress may be read while Run runs.
type Rebuild struct {
	cfg Config

	mu      sync.Mutex
	streams map[string]*stream

	phase             atomic.Value // string
	pass              atomic.Int64
	scanned, allItems atomic.Int64
	estimate          atomic.Int64
	nStreams, commits atomic.Int64
	events, newInPass atomic.Int64
}

// stream is what the rebuild handed the view of one stream.
type stream struct {
	id   eventstore.StreamID
	last int64 // the last version handed to the view
	pass int   // the pass that found it
}

// New returns a rebuild of cfg.View from cfg.EventsTable.
func New(cfg Config) *Rebuild {
	if cfg.Segments <= 0 {
		cfg.Segments = DefaultSegments
	}
	if cfg.Margin <= 0 {
		cfg.Margin = DefaultMargin
	}
	if cfg.MaxPasses <= 0 {
		cfg.MaxPasses = DefaultMaxPasses
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Rebuild{cfg: cfg, streams: map[string]*stream{}}
	r.phase.Store("")
	return r
}

// Progress returns where the rebuild stands.
func (r *Rebuild) Progress() Progress {
	return Progress{
		Phase: r.phase.Load().(string), Pass: int(r.pass.Load()),
		Scanned: r.scanned.Load(), Estimate: r.estimate.Load(),
		Streams: r.nStreams.Load(), Commits: r.commits.Load(), Events: r.events.Load(),
	}
}

// Run rebuilds the view. It can be run again over the same fresh table:
// what the view already holds is skipped.
func (r *Rebuild) Run(ctx context.Context) (Result, error) {
	c := r.cfg
	res := Result{Started: c.Now()}
	if out, err := c.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(c.EventsTable)}); err != nil {
		return res, fmt.Errorf("describe the events table %s: %w", c.EventsTable, err)
	} else if out.Table != nil {
		r.estimate.Store(aws.ToInt64(out.Table.ItemCount))
	}
	since := c.Since
	for pass := 1; ; pass++ {
		begun := c.Now()
		r.pass.Store(int64(pass))
		found, err := r.scan(ctx, pass, since)
		if err != nil {
			return r.result(res), err
		}
		if c.AfterScan != nil {
			if err := c.AfterScan(ctx, pass); err != nil {
				return r.result(res), fmt.Errorf("after the scan of pass %d: %w", pass, err)
			}
		}
		if err := r.catchUp(ctx, pass); err != nil {
			return r.result(res), err
		}
		res.Passes, res.CaughtUpTo = pass, begun
		// The first pass always finds what it finds; only a later one
		// that finds nothing proves nothing was written meanwhile.
		if pass > 1 && found == 0 {
			res.Settled = true
			break
		}
		if pass >= c.MaxPasses {
			break
		}
		since = begun
	}
	return r.result(res), nil
}

func (r *Rebuild) result(res Result) Result {
	res.Elapsed = r.cfg.Now().Sub(res.Started)
	res.Commits, res.Events = int(r.commits.Load()), int(r.events.Load())
	res.Scanned = r.allItems.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Streams = len(r.streams)
	for _, s := range r.streams {
		res.StreamKeys = append(res.StreamKeys, s.id)
	}
	return res
}

// scan reads the events table in parallel segments (every commit, or
// those recorded since since less the margin) and applies what the view
// was not handed yet. It returns how many commits were new.
func (r *Rebuild) scan(ctx context.Context, pass int, since time.Time) (int64, error) {
	r.phase.Store("scan")
	r.scanned.Store(0)
	r.newInPass.Store(0)
	filter := "#kind = :commit"
	names := map[string]string{"#kind": attrKind}
	values := map[string]types.AttributeValue{":commit": &types.AttributeValueMemberS{Value: eventstore.KindCommit}}
	if !since.IsZero() {
		// recordedAt is RFC 3339 text, whose fraction makes a plain
		// string comparison wrong within one second; a threshold on a
		// whole second, one second early, compares right.
		threshold := since.Add(-r.cfg.Margin).UTC().Truncate(time.Second).Add(-time.Second)
		filter += " AND #ra >= :since"
		names["#ra"] = attrRecordedAt
		values[":since"] = &types.AttributeValueMemberS{Value: threshold.Format("2006-01-02T15:04:05Z")}
	}
	total := int32(r.cfg.Segments)
	err := parallel(ctx, int(total), func(ctx context.Context, seg int) error {
		in := &dynamodb.ScanInput{
			TableName:                 aws.String(r.cfg.EventsTable),
			ConsistentRead:            aws.Bool(true),
			Segment:                   aws.Int32(int32(seg)),
			TotalSegments:             aws.Int32(total),
			FilterExpression:          aws.String(filter),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}
		f := &feeder{r: r, pass: pass}
		for {
			out, err := r.cfg.DB.Scan(ctx, in)
			if err != nil {
				return fmt.Errorf("scan segment %d of %d of %s (pass %d): %w", seg, total, r.cfg.EventsTable, pass, err)
			}
			r.scanned.Add(int64(out.ScannedCount))
			r.allItems.Add(int64(out.ScannedCount))
			for _, it := range out.Items {
				if err := f.add(ctx, it); err != nil {
					return err
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				return f.flush(ctx)
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	})
	return r.newInPass.Load(), err
}

// catchUp reads past what the view was handed, for every stream the pass
// found first.
func (r *Rebuild) catchUp(ctx context.Context, pass int) error {
	r.phase.Store("catch-up")
	r.mu.Lock()
	var keys []string
	for k, s := range r.streams {
		if s.pass == pass {
			keys = append(keys, k)
		}
	}
	r.mu.Unlock()
	var next atomic.Int64
	return parallel(ctx, r.cfg.Segments, func(ctx context.Context, _ int) error {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(keys) {
				return nil
			}
			if err := r.catchUpStream(ctx, keys[i], pass); err != nil {
				return err
			}
		}
	})
}

// catchUpStream reads the commits after the last version handed to the
// view (commits are keyed by their first version) and applies them.
func (r *Rebuild) catchUpStream(ctx context.Context, key string, pass int) error {
	r.mu.Lock()
	last := r.streams[key].last
	r.mu.Unlock()
	pk, sk := eventstore.KeyNames()
	in := &dynamodb.QueryInput{
		TableName:                aws.String(r.cfg.EventsTable),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk > :last"),
		ExpressionAttributeNames: map[string]string{"#pk": pk, "#sk": sk},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   &types.AttributeValueMemberS{Value: key},
			":last": &types.AttributeValueMemberN{Value: fmt.Sprint(last)},
		},
		ConsistentRead: aws.Bool(true),
	}
	f := &feeder{r: r, pass: pass}
	for {
		out, err := r.cfg.DB.Query(ctx, in)
		if err != nil {
			return fmt.Errorf("catch up %s after version %d: %w", key, last, err)
		}
		for _, it := range out.Items {
			if err := f.add(ctx, it); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return f.flush(ctx)
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// feeder gathers consecutive commits of one stream, in the order a scan
// segment or a query reads them (a partition's items in version order),
// and hands them to the view together.
type feeder struct {
	r      *Rebuild
	pass   int
	events []eventstore.Event
}

func (f *feeder) add(ctx context.Context, it eventstore.Item) error {
	if eventstore.KindOf(it) != eventstore.KindCommit {
		return nil
	}
	evs, err := eventstore.DecodeCommit(it)
	if err != nil {
		pk, sk, _ := eventstore.ItemKey(it)
		return fmt.Errorf("commit item %s at %s of %s does not decode: %w", pk, sk, f.r.cfg.EventsTable, err)
	}
	if c := f.r.cfg.Category; c != "" && evs[0].Stream.Category != c {
		return nil
	}
	if n := len(f.events); n > 0 && (f.events[0].Stream != evs[0].Stream ||
		f.events[n-1].Version+1 != evs[0].Version || n+len(evs) > maxRun) {
		if err := f.flush(ctx); err != nil {
			return err
		}
	}
	f.events = append(f.events, evs...)
	return nil
}

// flush hands the gathered events to the view, less those it was handed
// before.
func (f *feeder) flush(ctx context.Context) error {
	evs := f.events
	f.events = nil
	if len(evs) == 0 {
		return nil
	}
	r := f.r
	id := evs[0].Stream
	r.mu.Lock()
	s, ok := r.streams[id.Key()]
	if !ok {
		s = &stream{id: id, pass: f.pass}
		r.streams[id.Key()] = s
		r.nStreams.Add(1)
	}
	last := s.last
	r.mu.Unlock()
	i := 0
	for i < len(evs) && evs[i].Version <= last {
		i++
	}
	evs = evs[i:]
	if len(evs) == 0 {
		return nil
	}
	if err := r.cfg.View.Apply(ctx, evs); err != nil {
		return fmt.Errorf("apply %s %d..%d to the %s view: %w", id, evs[0].Version, evs[len(evs)-1].Version, r.cfg.View.Name(), err)
	}
	commits := int64(0)
	for i, e := range evs {
		if i == 0 || e.CommitID != evs[i-1].CommitID {
			commits++
		}
	}
	r.mu.Lock()
	s.last = max(s.last, evs[len(evs)-1].Version)
	r.mu.Unlock()
	r.commits.Add(commits)
	r.newInPass.Add(commits)
	r.events.Add(int64(len(evs)))
	return nil
}

// parallel runs f(ctx, 0..n-1) concurrently and returns the first error,
// cancelling the others.
func parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := f(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
