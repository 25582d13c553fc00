package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Fold is how a domain rebuilds an aggregate's state from its events.
type Fold[S any] struct {
	// Name identifies the aggregate kind in snapshot keys, e.g. "account".
	Name string
	// LogicVersion must change whenever Evolve would compute a different
	// state from the same events: it keys snapshots, so old ones are then
	// ignored instead of trusted.
	LogicVersion int
	// StateSchema must change whenever S's JSON encoding changes shape.
	StateSchema int
	// Initial is the state before the first event; nil means S's zero value.
	Initial func() S
	// Evolve applies one event.
	Evolve func(S, Event) (S, error)
}

func (f Fold[S]) key() string {
	return fmt.Sprintf("%s/logic-%d/schema-%d", f.Name, f.LogicVersion, f.StateSchema)
}

func (f Fold[S]) initial() S {
	if f.Initial != nil {
		return f.Initial()
	}
	var zero S
	return zero
}

// Current is an aggregate's latest state and the head it was observed at:
// the only state an append can follow.
type Current[S any] struct {
	State S
	Head  Head
}

// Past is an aggregate's state at an earlier version or time. It carries no
// Head, so it cannot be appended to: decisions are taken on the present.
type Past[S any] struct {
	State      S
	Version    int64
	RecordedAt time.Time
}

// Aggregate loads, appends to and time-travels the streams of one fold.
type Aggregate[S any] struct {
	store *Store
	fold  Fold[S]
}

// NewAggregate binds a fold to a store.
func NewAggregate[S any](store *Store, fold Fold[S]) *Aggregate[S] {
	return &Aggregate[S]{store: store, fold: fold}
}

// Store returns the underlying store.
func (a *Aggregate[S]) Store() *Store { return a.store }

// Load returns the current state and head with one Query when the latest
// snapshot is in reach (within the last K events), and a fold of at most K
// events. A stream without commits is ErrNotFound.
func (a *Aggregate[S]) Load(ctx context.Context, stream StreamID) (Current[S], error) {
	r, err := a.replay(ctx, stream, bound{})
	if err != nil {
		return Current[S]{}, err
	}
	return Current[S]{State: r.state, Head: Head{stream: stream, version: r.version, recordedAt: r.recordedAt, observed: true}}, nil
}

// At returns the state right after version v. A version beyond the head is
// ErrVersionNotFound.
func (a *Aggregate[S]) At(ctx context.Context, stream StreamID, v int64) (Past[S], error) {
	if v < 1 {
		return Past[S]{}, fmt.Errorf("%w: version %d", ErrVersionNotFound, v)
	}
	r, err := a.replay(ctx, stream, bound{version: v})
	if err != nil {
		return Past[S]{}, err
	}
	if r.version < v {
		return Past[S]{}, fmt.Errorf("%s at %d (head %d): %w", stream, v, r.version, ErrVersionNotFound)
	}
	return Past[S]{State: r.state, Version: r.version, RecordedAt: r.recordedAt}, nil
}

// AsOf returns the state as it was recorded at time t: the fold of the
// events with RecordedAt <= t. Before the stream's first event it is
// ErrVersionNotFound; after its last, the current state.
func (a *Aggregate[S]) AsOf(ctx context.Context, stream StreamID, t time.Time) (Past[S], error) {
	r, err := a.replay(ctx, stream, bound{time: t, hasTime: true})
	if err != nil {
		return Past[S]{}, err
	}
	return Past[S]{State: r.state, Version: r.version, RecordedAt: r.recordedAt}, nil
}

// Append writes events after cur's head and returns the new current state.
// Every K events it also writes a snapshot; a failed snapshot write costs
// only a longer load later, so it is logged, not returned.
func (a *Aggregate[S]) Append(ctx context.Context, cur Current[S], events []NewEvent, meta Metadata, guard *Guard) (Current[S], []Event, error) {
	committed, err := a.store.Append(ctx, cur.Head, events, meta, guard)
	if err != nil {
		return Current[S]{}, nil, err
	}
	next, err := a.Advance(ctx, cur, committed)
	return next, committed.Events, err
}

// Advance returns the state after committed, a commit the store appended
// at cur's head (with AppendAll, together with other streams), and writes
// a snapshot when the commit crossed a multiple of K, as Append does: a
// stream that only ever moves in multi-stream commits keeps its loads
// bounded too.
func (a *Aggregate[S]) Advance(ctx context.Context, cur Current[S], committed Committed) (Current[S], error) {
	// A commit of another stream, or not right after cur, would fold into
	// a state no load would give, and a snapshot would keep it.
	if len(committed.Events) == 0 || committed.Head.stream != cur.Head.stream ||
		committed.Events[0].Version != cur.Head.version+1 || committed.Head.version != cur.Head.version+int64(len(committed.Events)) {
		return Current[S]{}, fmt.Errorf("advance %s at %d: the commit (%s at %d) does not follow it",
			cur.Head.stream, cur.Head.version, committed.Head.stream, committed.Head.version)
	}
	state := cur.State
	var err error
	for _, e := range committed.Events {
		if state, err = a.fold.Evolve(state, e); err != nil {
			// The events are recorded; the state after them is not
			// computable, which a reload will report.
			return Current[S]{}, fmt.Errorf("evolve %s %d after append: %w", e.Stream, e.Version, err)
		}
	}
	next := Current[S]{State: state, Head: committed.Head}
	k := a.store.snapshotEvery
	if k > 0 && cur.Head.version/k != next.Head.version/k {
		a.snapshot(ctx, next)
	}
	return next, nil
}

func (a *Aggregate[S]) snapshot(ctx context.Context, cur Current[S]) {
	data, err := json.Marshal(cur.State)
	if err == nil {
		sn := snapshot{stream: cur.Head.stream, version: cur.Head.version, recordedAt: cur.Head.recordedAt, foldKey: a.fold.key(), state: data}
		err = a.store.backend.Write(ctx, []Write{{Item: sn.item()}}, "")
	}
	if err != nil {
		a.store.log.WarnContext(ctx, "snapshot not written", "stream", cur.Head.stream.String(), "version", cur.Head.version, "error", err)
	}
}

// bound limits a replay to a version or a recorded time; zero means none.
type bound struct {
	version int64
	time    time.Time
	hasTime bool // time is a bound: the zero time is a time like any other
}

type replayed[S any] struct {
	state      S
	version    int64
	recordedAt time.Time
}

// replay reads the partition newest first, down to the first usable
// snapshot within the bound, then folds forward. The page size reaches the
// latest snapshot in one Query when snapshots are kept every K events.
func (a *Aggregate[S]) replay(ctx context.Context, stream StreamID, b bound) (replayed[S], error) {
	var r replayed[S]
	if err := stream.Validate(); err != nil {
		return r, err
	}
	q := Query{PK: stream.Key(), Descending: true, Consistent: true}
	if k := a.store.snapshotEvery; k > 0 {
		// The latest snapshot is at most K commits back: K+2 items reach it.
		q.Limit = int32(k) + 2
	}
	if b.version > 0 {
		to := snapshotKey(b.version)
		q.To = &to
	}
	var (
		commits []commit
		base    *snapshot
		exists  bool
	)
pages:
	for {
		p, err := a.store.backend.Query(ctx, q)
		if err != nil {
			return r, fmt.Errorf("load %s: %w", stream, err)
		}
		for _, it := range p.Items {
			switch kindOf(it) {
			case kindCommit:
				c, err := decodeCommit(it)
				if err != nil {
					return r, fmt.Errorf("load %s: %w", stream, err)
				}
				exists = true
				if b.hasTime && c.recordedAt.After(b.time) {
					continue
				}
				commits = append(commits, c)
			case kindSnapshot:
				sn, err := decodeSnapshot(it)
				if err != nil {
					a.store.log.WarnContext(ctx, "unreadable snapshot skipped", "stream", stream.String(), "error", err)
					continue
				}
				exists = true
				if sn.foldKey != a.fold.key() || b.hasTime && sn.recordedAt.After(b.time) {
					continue
				}
				base = &sn
				break pages
			}
		}
		if p.Next == nil {
			break
		}
		q.Start = p.Next
	}
	if !exists {
		return r, fmt.Errorf("load %s: %w", stream, ErrNotFound)
	}

	r.state = a.fold.initial()
	if base != nil {
		if err := json.Unmarshal(base.state, &r.state); err != nil {
			// An unreadable snapshot is never an error: replay everything.
			a.store.log.WarnContext(ctx, "snapshot does not decode, replaying the stream", "stream", stream.String(), "version", base.version, "error", err)
			return a.replayWithoutSnapshots(ctx, stream, b)
		}
		r.version, r.recordedAt = base.version, base.recordedAt
	}
	slices.Reverse(commits)
	if err := a.foldCommits(&r, commits, b); err != nil {
		return r, err
	}
	if r.version == 0 && b.hasTime {
		return r, fmt.Errorf("%s as of %s: %w", stream, b.time.Format(time.RFC3339Nano), ErrVersionNotFound)
	}
	return r, nil
}

func (a *Aggregate[S]) foldCommits(r *replayed[S], commits []commit, b bound) error {
	for _, c := range commits {
		for _, e := range c.events {
			if e.Version <= r.version {
				continue
			}
			if b.version > 0 && e.Version > b.version {
				return nil
			}
			e, err := a.store.upcast(e)
			if err != nil {
				return fmt.Errorf("upcast %s %d: %w", e.Stream, e.Version, err)
			}
			if r.state, err = a.fold.Evolve(r.state, e); err != nil {
				return fmt.Errorf("evolve %s %d (%s): %w", e.Stream, e.Version, e.Type, err)
			}
			r.version, r.recordedAt = e.Version, e.RecordedAt
		}
	}
	return nil
}

// replayWithoutSnapshots folds the whole stream from its first event.
func (a *Aggregate[S]) replayWithoutSnapshots(ctx context.Context, stream StreamID, b bound) (replayed[S], error) {
	r := replayed[S]{state: a.fold.initial()}
	q := Query{PK: stream.Key(), Consistent: true}
	if b.version > 0 {
		to := snapshotKey(b.version)
		q.To = &to
	}
	// recordedAt never goes backwards in a stream, so the first commit
	// after the time bound ends the replay.
	for past := false; !past; {
		p, err := a.store.backend.Query(ctx, q)
		if err != nil {
			return r, fmt.Errorf("load %s: %w", stream, err)
		}
		var commits []commit
		for _, it := range p.Items {
			if kindOf(it) != kindCommit {
				continue
			}
			c, err := decodeCommit(it)
			if err != nil {
				return r, fmt.Errorf("load %s: %w", stream, err)
			}
			if b.hasTime && c.recordedAt.After(b.time) {
				past = true
				break
			}
			commits = append(commits, c)
		}
		if err := a.foldCommits(&r, commits, b); err != nil {
			return r, err
		}
		if p.Next == nil {
			break
		}
		q.Start = p.Next
	}
	if r.version == 0 {
		if !b.hasTime {
			return r, fmt.Errorf("load %s: %w", stream, ErrNotFound)
		}
		return r, fmt.Errorf("%s as of %s: %w", stream, b.time.Format(time.RFC3339Nano), ErrVersionNotFound)
	}
	return r, nil
}

// IsNotFound reports whether err means the stream, or the stream at that
// version or time, does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrVersionNotFound)
}
