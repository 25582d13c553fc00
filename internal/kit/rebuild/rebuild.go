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

	"annals/internal/kit/eventstore"
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

// Events reads the commits of the events table; *eventstore.Store is one.
type Events interface {
	ScanCommits(ctx context.Context, sc eventstore.CommitScan) (eventstore.CommitScanPage, error)
	ReadCommitsAfter(ctx context.Context, stream eventstore.StreamID, after int64) (eventstore.CommitPage, error)
	ItemCount(ctx context.Context) (int64, error)
}

// Config describes one rebuild.
type Config struct {
	Events Events
	View   View
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
	Estimate int64 // the events table's item count as the store estimates it (DynamoDB refreshes it about every six hours), 0 when unknown
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

// New returns a rebuild of cfg.View from cfg.Events.
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
	// The estimate is for the progress bar alone, but asking for it first
	// also finds an events table that cannot be read before any work.
	n, err := c.Events.ItemCount(ctx)
	if err != nil {
		return res, err
	}
	r.estimate.Store(n)
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
	if !since.IsZero() {
		since = since.Add(-r.cfg.Margin)
	}
	segments := r.cfg.Segments
	err := parallel(ctx, segments, func(ctx context.Context, seg int) error {
		sc := eventstore.CommitScan{Segment: seg, Segments: segments, Since: since}
		f := &feeder{r: r, pass: pass}
		for {
			page, err := r.cfg.Events.ScanCommits(ctx, sc)
			if err != nil {
				return fmt.Errorf("pass %d: %w", pass, err)
			}
			r.scanned.Add(int64(page.Scanned))
			r.allItems.Add(int64(page.Scanned))
			for _, c := range page.Commits {
				if err := f.add(ctx, c); err != nil {
					return err
				}
			}
			if page.Next == nil {
				return f.flush(ctx)
			}
			sc.Cursor = page.Next
		}
	})
	return r.newInPass.Load(), err
}

// catchUp reads past what the view was handed, for every stream the pass
// found first.
func (r *Rebuild) catchUp(ctx context.Context, pass int) error {
	r.phase.Store("catch-up")
	r.mu.Lock()
	var found []eventstore.StreamID
	for _, s := range r.streams {
		if s.pass == pass {
			found = append(found, s.id)
		}
	}
	r.mu.Unlock()
	var next atomic.Int64
	return parallel(ctx, r.cfg.Segments, func(ctx context.Context, _ int) error {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(found) {
				return nil
			}
			if err := r.catchUpStream(ctx, found[i], pass); err != nil {
				return err
			}
		}
	})
}

// catchUpStream reads the commits after the last version handed to the
// view, which is where a commit ends, and applies them.
func (r *Rebuild) catchUpStream(ctx context.Context, id eventstore.StreamID, pass int) error {
	r.mu.Lock()
	after := r.streams[id.Key()].last
	r.mu.Unlock()
	f := &feeder{r: r, pass: pass}
	for {
		page, err := r.cfg.Events.ReadCommitsAfter(ctx, id, after)
		if err != nil {
			return fmt.Errorf("catch up %s: %w", id, err)
		}
		for _, c := range page.Commits {
			if err := f.add(ctx, c); err != nil {
				return err
			}
		}
		if page.Next == 0 {
			return f.flush(ctx)
		}
		after = page.Next
	}
}

// feeder gathers consecutive commits of one stream, in the order a scan
// segment or a catch-up reads them (a stream's commits in version order),
// and hands them to the view together.
type feeder struct {
	r      *Rebuild
	pass   int
	events []eventstore.Event
}

func (f *feeder) add(ctx context.Context, commit []eventstore.Event) error {
	if c := f.r.cfg.Category; c != "" && commit[0].Stream.Category != c {
		return nil
	}
	if n := len(f.events); n > 0 && (f.events[0].Stream != commit[0].Stream ||
		f.events[n-1].Version+1 != commit[0].Version || n+len(commit) > maxRun) {
		if err := f.flush(ctx); err != nil {
			return err
		}
	}
	f.events = append(f.events, commit...)
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
