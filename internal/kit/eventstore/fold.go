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
	// LargeStates says that S's JSON does not fit in the bytes a commit
	// has free (a ledger account's does), so commits will not keep it: a
	// load or a state at a version then reads back to the latest snapshot
	// in its first Query (K+2 commits, not 1 or 2), and the snapshot in a
	// second, instead of three Queries.
	LargeStates bool
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

// Load returns the current state and head. A commit the aggregate wrote
// keeps the state after it when that costs no write unit more, so a load
// is one Query of one item, the head, whatever the stream's length. A head
// without a usable state (a larger state, a commit appended without the
// fold, a fold of another LogicVersion) costs two Queries more: the latest
// snapshot and the commits after it, at most K events. A stream without
// commits is ErrNotFound.
func (a *Aggregate[S]) Load(ctx context.Context, stream StreamID) (Current[S], error) {
	if err := stream.Validate(); err != nil {
		return Current[S]{}, err
	}
	r, err := a.near(ctx, stream, bound{}, a.nearLimit(1))
	if m, ok, aerr := a.store.inArchive(ctx, stream, err, false); ok || aerr != nil {
		if aerr != nil {
			return Current[S]{}, aerr
		}
		return a.loadArchived(ctx, *m)
	}
	if err != nil {
		return Current[S]{}, err
	}
	cur := Current[S]{State: r.state, Head: Head{stream: stream, version: r.version, recordedAt: r.recordedAt, observed: true}}
	a.remember(cur)
	return cur, nil
}

// Decision is what a command decided on a state: the events to append
// after it (none: nothing to write) and how.
type Decision struct {
	Events []NewEvent
	Meta   Metadata
	Guard  *Guard
}

// Decide runs decide on the stream's current state and appends the events
// it returns at that state's head, in one conditional write.
//
// With a Cache (WithCache), a stream this instance has seen is decided on
// the state it last saw, without a read. That state is only ever the
// expected head of the write: if the stream has moved since, the write
// fails, the entry is dropped, and the command is decided again on the
// state after the commit that took its place (which the failed write
// returns, and which keeps its state when the aggregate wrote it), or on
// a fresh load. A decision that writes nothing (an error, or no events) is
// never taken on a state that was not read just now: it is decided again
// on a fresh load. So a stale cache costs a retry, never a decision taken
// on a state the stream was not at.
//
// decide may run several times; only the last run's result is used. Decide
// returns the state after the commit and the events recorded; with no
// events, the state decide saw and none. A stream that keeps moving under
// it is a conflict after a few rounds, for the caller to retry.
func (a *Aggregate[S]) Decide(ctx context.Context, stream StreamID, decide func(Current[S]) (Decision, error)) (Current[S], []Event, error) {
	cur, unread := a.cached(ctx, stream)
	if !unread {
		var err error
		if cur, err = a.Load(ctx, stream); err != nil {
			return Current[S]{}, nil, err
		}
	}
	for rounds := 1; ; rounds++ {
		if cur.Head.archived {
			// Decided on nothing: an archived stream takes no commands.
			return Current[S]{}, nil, fmt.Errorf("decide on %s: %w", stream, ErrArchived)
		}
		d, err := decide(cur)
		if err != nil || len(d.Events) == 0 {
			if !unread {
				return cur, nil, err
			}
			if cur, err = a.Load(ctx, stream); err != nil {
				return Current[S]{}, nil, err
			}
			unread = false
			continue
		}
		next, evs, err := a.Append(ctx, cur, d.Events, d.Meta, d.Guard)
		if err == nil {
			return next, evs, nil
		}
		var applied *AlreadyAppliedError
		if !errors.As(err, &applied) || applied.conflicted {
			// A repeat whose commit found its place free leaves the state
			// as it was; anything else may have moved the stream.
			a.forget(stream)
		}
		var ce *ConflictError
		if !errors.As(err, &ce) || rounds >= maxDecideRounds {
			return Current[S]{}, nil, err
		}
		var ok bool
		switch cur, ok = a.taken(ctx, ce); {
		case ok:
			unread = true
		case unread:
			// A state not read just now lost: read the stream as it is.
			if cur, err = a.Load(ctx, stream); err != nil {
				return Current[S]{}, nil, err
			}
			unread = false
		default:
			return Current[S]{}, nil, err
		}
	}
}

// maxDecideRounds bounds the writes of one Decide on a stream that keeps
// moving: each lost round means another writer won one.
const maxDecideRounds = 4

// taken returns the state after the commit that took a conflicting write's
// place, when that commit keeps it.
func (a *Aggregate[S]) taken(ctx context.Context, ce *ConflictError) (Current[S], bool) {
	c, err := decodeCommit(ce.taken)
	if err != nil || c.stream != ce.Stream || c.first != ce.Version || c.foldKey != a.fold.key() {
		return Current[S]{}, false
	}
	st, ok := a.decodeState(ctx, c.stream, c.last(), c.state)
	if !ok {
		return Current[S]{}, false
	}
	return Current[S]{State: st, Head: Head{stream: c.stream, version: c.last(), recordedAt: c.recordedAt, observed: true}}, true
}

// cached returns the state this instance last saw the stream at.
func (a *Aggregate[S]) cached(ctx context.Context, stream StreamID) (Current[S], bool) {
	c := a.store.cache
	if c == nil {
		return Current[S]{}, false
	}
	head, data, ok := c.get(a.fold.key(), stream)
	if !ok {
		return Current[S]{}, false
	}
	st, ok := a.decodeState(ctx, stream, head.version, data)
	if !ok {
		c.drop(a.fold.key(), stream)
		return Current[S]{}, false
	}
	return Current[S]{State: st, Head: head}, true
}

// remember keeps a current state in the cache, if there is one.
func (a *Aggregate[S]) remember(cur Current[S]) {
	c := a.store.cache
	if c == nil || cur.Head.version == 0 {
		return
	}
	if data, err := json.Marshal(cur.State); err == nil {
		c.put(a.fold.key(), cur.Head, data)
	}
}

func (a *Aggregate[S]) forget(stream StreamID) {
	if c := a.store.cache; c != nil {
		c.drop(a.fold.key(), stream)
	}
}

// At returns the state right after version v: one Query of two items (the
// commit holding v and the one before it) when the aggregate kept the
// state with them, else, as Load, the latest snapshot by v and the commits
// after it (with LargeStates, two Queries in all). A version beyond the
// head is ErrVersionNotFound.
func (a *Aggregate[S]) At(ctx context.Context, stream StreamID, v int64) (Past[S], error) {
	if err := stream.Validate(); err != nil {
		return Past[S]{}, err
	}
	if v < 1 {
		return Past[S]{}, fmt.Errorf("%w: version %d", ErrVersionNotFound, v)
	}
	r, err := a.near(ctx, stream, bound{version: v}, a.nearLimit(2))
	if err == nil && r.version < v {
		err = fmt.Errorf("%s at %d (head %d): %w", stream, v, r.version, ErrVersionNotFound)
	}
	if m, ok, aerr := a.store.inArchive(ctx, stream, err, true); ok || aerr != nil {
		if aerr != nil {
			return Past[S]{}, aerr
		}
		return a.pastArchived(ctx, *m, bound{version: v})
	}
	if err != nil {
		return Past[S]{}, err
	}
	return Past[S]{State: r.state, Version: r.version, RecordedAt: r.recordedAt}, nil
}

// AsOf returns the state as it was recorded at time t: the fold of the
// events with RecordedAt <= t. Before the stream's first event it is
// ErrVersionNotFound; after its last, the current state. It costs two
// Queries whatever the stream's length and t: the latest snapshot recorded
// by t, from the stream's snapshot partition, which is ordered by time, and
// the commits after it up to the first recorded after t, which the next
// snapshot (at most K events on) bounds.
func (a *Aggregate[S]) AsOf(ctx context.Context, stream StreamID, t time.Time) (Past[S], error) {
	if err := stream.Validate(); err != nil {
		return Past[S]{}, err
	}
	r, err := a.replay(ctx, stream, bound{time: t, hasTime: true})
	if m, ok, aerr := a.store.inArchive(ctx, stream, err, true); ok || aerr != nil {
		if aerr != nil {
			return Past[S]{}, aerr
		}
		return a.pastArchived(ctx, *m, bound{time: t, hasTime: true})
	}
	if err != nil {
		return Past[S]{}, err
	}
	return Past[S]{State: r.state, Version: r.version, RecordedAt: r.recordedAt}, nil
}

// Pending is a commit of events at cur's head for Store.AppendAll that
// keeps the state after them with the commit, as Append does, so that the
// stream's next load is one item.
func (a *Aggregate[S]) Pending(cur Current[S], events []NewEvent, meta Metadata) Pending {
	return Pending{Head: cur.Head, Events: events, Meta: meta, fold: a.stateAfter(cur.State)}
}

// evolved is the state after a commit, computed once before the write
// (to keep it with the commit) and handed to Advance with the commit.
type evolved[S any] struct {
	agg   *Aggregate[S] // whose fold computed it
	state S
	err   error
}

func (a *Aggregate[S]) stateAfter(state S) func([]Event) (string, []byte, any) {
	return func(events []Event) (string, []byte, any) {
		next, err := a.evolve(state, events)
		if err != nil {
			return "", nil, evolved[S]{agg: a, err: err}
		}
		data, err := json.Marshal(next)
		if err != nil {
			data = nil // the commit goes without it; a snapshot will say why
		}
		return a.fold.key(), data, evolved[S]{agg: a, state: next}
	}
}

func (a *Aggregate[S]) evolve(state S, events []Event) (S, error) {
	for _, e := range events {
		var err error
		if state, err = a.fold.Evolve(state, e); err != nil {
			return state, fmt.Errorf("evolve %s %d: %w", e.Stream, e.Version, err)
		}
	}
	return state, nil
}

// Append writes events after cur's head and returns the new current state.
// The commit keeps the state after it when that costs no write unit more.
// Every K events it also writes a snapshot; a failed snapshot write costs
// only a longer load later, so it is logged, not returned.
func (a *Aggregate[S]) Append(ctx context.Context, cur Current[S], events []NewEvent, meta Metadata, guard *Guard) (Current[S], []Event, error) {
	out, err := a.store.AppendAll(ctx, []Pending{a.Pending(cur, events, meta)}, guard)
	if err != nil {
		return Current[S]{}, nil, err
	}
	next, err := a.Advance(ctx, cur, out[0])
	return next, out[0].Events, err
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
	ev, ok := committed.evolved.(evolved[S])
	if !ok || ev.agg != a {
		ev.state, ev.err = a.evolve(cur.State, committed.Events)
	}
	if ev.err != nil {
		// The events are recorded; the state after them is not
		// computable, which a reload will report.
		return Current[S]{}, fmt.Errorf("after append: %w", ev.err)
	}
	next := Current[S]{State: ev.state, Head: committed.Head}
	a.remember(next)
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
	// versionTime is when version was recorded, which finds the snapshots
	// at or before it in the snapshot partition.
	versionTime time.Time
	time        time.Time
	hasTime     bool // time is a bound: the zero time is a time like any other
}

type replayed[S any] struct {
	state      S
	version    int64
	recordedAt time.Time
}

// nearLimit is how many items near reads: enough for a state kept with
// the commits, or with LargeStates enough to reach back to the latest
// snapshot (written each time the version crosses a multiple of K).
func (a *Aggregate[S]) nearLimit(kept int32) int32 {
	if k := a.store.snapshotEvery; a.fold.LargeStates && k > 0 {
		return int32(k) + 2
	}
	return kept
}

// near reads the newest items of the stream's partition within the bound
// (limit of them, one Query) and folds them onto the newest usable state
// among them: a commit's own, or an older table's snapshot. Without one it
// folds them onto the latest snapshot within the bound, and reads the
// commits in between only if they did not reach back to it.
func (a *Aggregate[S]) near(ctx context.Context, stream StreamID, b bound, limit int32) (replayed[S], error) {
	var r replayed[S]
	q := Query{PK: stream.Key(), Descending: true, Consistent: true, Limit: limit}
	if b.version > 0 {
		to := snapshotKey(b.version)
		q.To = &to
	}
	p, err := a.store.backend.Query(ctx, q)
	if err != nil {
		return r, fmt.Errorf("load %s: %w", stream, err)
	}
	var commits []commit
	for _, it := range p.Items {
		switch kindOf(it) {
		case kindCommit:
			c, err := decodeCommit(it)
			if err != nil {
				return r, fmt.Errorf("load %s: %w", stream, err)
			}
			if b.versionTime.IsZero() {
				b.versionTime = c.recordedAt // the newest commit within the bound
			}
			if (b.version == 0 || c.last() <= b.version) && c.foldKey == a.fold.key() {
				if st, ok := a.decodeState(ctx, stream, c.last(), c.state); ok {
					r = replayed[S]{state: st, version: c.last(), recordedAt: c.recordedAt}
					slices.Reverse(commits)
					return r, a.foldCommits(ctx, &r, commits, b)
				}
			}
			commits = append(commits, c)
		case kindArchived:
			return r, fmt.Errorf("load %s: %w", stream, errInArchive)
		case kindSnapshot:
			sn, err := decodeSnapshot(it)
			if err != nil || sn.foldKey != a.fold.key() {
				continue
			}
			if st, ok := a.decodeState(ctx, stream, sn.version, sn.state); ok {
				r = replayed[S]{state: st, version: sn.version, recordedAt: sn.recordedAt}
				slices.Reverse(commits)
				return r, a.foldCommits(ctx, &r, commits, b)
			}
		}
	}
	if len(p.Items) == 0 {
		return r, fmt.Errorf("load %s: %w", stream, ErrNotFound)
	}
	slices.Reverse(commits)
	if len(commits) > 0 && commits[0].first == 1 {
		// Back to the first commit: the fold's initial state is the base.
		r.state = a.fold.initial()
		return r, a.foldCommits(ctx, &r, commits, b)
	}
	r, _, err = a.snapshotWithin(ctx, stream, b)
	if err != nil {
		return r, err
	}
	if len(commits) > 0 && commits[0].first <= r.version+1 {
		// The commits read reach back to the snapshot.
		return r, a.foldCommits(ctx, &r, commits, b)
	}
	return a.replayFrom(ctx, stream, b, r, true)
}

// decodeState reads a kept state; one that does not decode is skipped
// (logged), never an error: there are events to fold instead.
func (a *Aggregate[S]) decodeState(ctx context.Context, stream StreamID, version int64, data []byte) (S, bool) {
	st := a.fold.initial()
	if len(data) == 0 {
		return st, false
	}
	if err := json.Unmarshal(data, &st); err != nil {
		a.store.log.WarnContext(ctx, "kept state does not decode, folding events instead", "stream", stream.String(), "version", version, "error", err)
		return st, false
	}
	return st, true
}

// replay folds the stream from the latest usable snapshot within the bound
// (one Query of the snapshot partition, more only to skip snapshots of
// another fold) and the commits after it (one Query: up to the bound, or
// for a time, up to the next multiple of K). Without a snapshot it folds
// from the first event.
func (a *Aggregate[S]) replay(ctx context.Context, stream StreamID, b bound) (replayed[S], error) {
	r, exists, err := a.snapshotWithin(ctx, stream, b)
	if err != nil {
		return r, err
	}
	return a.replayFrom(ctx, stream, b, r, exists)
}

// snapshotWithin returns the latest usable snapshot within the bound (one
// Query of the snapshot partition, more only to skip snapshots of another
// fold), or the fold's initial state at version 0; exists says whether the
// stream has any snapshot.
func (a *Aggregate[S]) snapshotWithin(ctx context.Context, stream StreamID, b bound) (replayed[S], bool, error) {
	r := replayed[S]{state: a.fold.initial()}
	sq := Query{PK: snapshotPartition(stream), Descending: true, Consistent: true, Limit: 1}
	switch {
	case b.hasTime:
		to := timeKey(b.time, maxKeyVersion)
		sq.To = &to
	case b.version > 0:
		to := timeKey(b.versionTime, b.version)
		sq.To = &to
	}
	exists := false
	for found := false; !found; {
		p, err := a.store.backend.Query(ctx, sq)
		if err != nil {
			return r, exists, fmt.Errorf("load %s: %w", stream, err)
		}
		for _, it := range p.Items {
			sn, err := decodeSnapshot(it)
			if err != nil {
				a.store.log.WarnContext(ctx, "unreadable snapshot skipped", "stream", stream.String(), "error", err)
				continue
			}
			exists = true
			if sn.foldKey != a.fold.key() {
				continue
			}
			// A snapshot that does not decode is passed over for the
			// events: the fold starts from the first one.
			found = true
			if st, ok := a.decodeState(ctx, stream, sn.version, sn.state); ok {
				r = replayed[S]{state: st, version: sn.version, recordedAt: sn.recordedAt}
			}
			break
		}
		if p.Next == nil {
			break
		}
		// Snapshots of another fold: read on by the backend's pages.
		sq.Start, sq.Limit = p.Next, 0
	}
	return r, exists, nil
}

// replayFrom folds onto r the commits after it, up to the bound (one
// Query: up to the bound's version, or for a time, up to the next
// multiple of K); exists says whether the stream is known to exist.
func (a *Aggregate[S]) replayFrom(ctx context.Context, stream StreamID, b bound, r replayed[S], exists bool) (replayed[S], error) {
	cq := Query{PK: stream.Key(), Consistent: true}
	from := commitKey(r.version + 1)
	cq.From = &from
	var next int64 // the first multiple of K after the snapshot
	read := false  // whether a commit was read
	switch k := a.store.snapshotEvery; {
	case b.version > 0:
		to := commitKey(b.version)
		cq.To = &to
	case b.hasTime && k > 0:
		// The commit that holds the next multiple of K wrote the next
		// snapshot, which was not recorded by the bound (or the first
		// Query would have found it): the first commit after the bound
		// begins at or before that multiple, and the commits up to it
		// are all there is to read.
		next = (r.version/k + 1) * k
		to := commitKey(next)
		cq.To = &to
	}
	for {
		p, err := a.store.backend.Query(ctx, cq)
		if err != nil {
			return r, fmt.Errorf("load %s: %w", stream, err)
		}
		var commits []commit
		past := false
		for _, it := range p.Items {
			if kindOf(it) == kindArchived {
				return r, fmt.Errorf("load %s from %d: %w", stream, r.version+1, errInArchive)
			}
			if kindOf(it) != kindCommit {
				continue
			}
			c, err := decodeCommit(it)
			if err != nil {
				return r, fmt.Errorf("load %s: %w", stream, err)
			}
			if !read && c.first > r.version+1 {
				// The stream's first commits are gone: an archival
				// removed them.
				return r, fmt.Errorf("load %s from %d: %w", stream, r.version+1, errInArchive)
			}
			exists, read = true, true
			// recordedAt never goes backwards in a stream, so the first
			// commit after the time bound ends the replay.
			if b.hasTime && c.recordedAt.After(b.time) {
				past = true
				break
			}
			commits = append(commits, c)
		}
		if err := a.foldCommits(ctx, &r, commits, b); err != nil {
			return r, err
		}
		if past {
			break
		}
		if p.Next != nil {
			cq.Start = p.Next
			continue
		}
		if next == 0 || r.version < next {
			break
		}
		// The commit holding the multiple was recorded by the bound and
		// its snapshot is missing (not written, or of another K): read on.
		from := commitKey(r.version + 1)
		cq.From, cq.To, cq.Start, next = &from, nil, nil, 0
	}
	switch {
	case !exists:
		return r, fmt.Errorf("load %s: %w", stream, ErrNotFound)
	case r.version == 0 && b.hasTime:
		return r, fmt.Errorf("%s as of %s: %w", stream, b.time.Format(time.RFC3339Nano), ErrVersionNotFound)
	case r.version == 0:
		return r, fmt.Errorf("load %s: %w", stream, ErrNotFound)
	}
	return r, nil
}

// foldCommits folds commits in version order onto r, up to the bound's
// version. A commit that kept the state after it is taken as it is.
func (a *Aggregate[S]) foldCommits(ctx context.Context, r *replayed[S], commits []commit, b bound) error {
	for _, c := range commits {
		if c.last() <= r.version {
			continue
		}
		if (b.version == 0 || c.last() <= b.version) && c.foldKey == a.fold.key() {
			if st, ok := a.decodeState(ctx, c.stream, c.last(), c.state); ok {
				r.state, r.version, r.recordedAt = st, c.last(), c.recordedAt
				continue
			}
		}
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

// IsNotFound reports whether err means the stream, or the stream at that
// version or time, does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrVersionNotFound)
}
