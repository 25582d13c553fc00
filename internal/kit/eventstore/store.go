package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Store appends and reads streams of events through a Backend.
type Store struct {
	backend       Backend
	now           func() time.Time
	newID         func() string
	upcast        Upcaster
	snapshotEvery int64
	log           *slog.Logger
	backoff       func(attempt int) time.Duration
	cache         *Cache
	archive       ArchiveObjects
}

// WithArchive lets reads of archived streams answer from their archives
// (Archive's objects). Without it they are ErrArchived.
func WithArchive(objects ArchiveObjects) Option { return func(s *Store) { s.archive = objects } }

// Option configures a Store.
type Option func(*Store)

// WithClock injects the clock that stamps recordedAt (and occurredAt when an
// event has none).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithIDs injects the generator of commit and event ids.
func WithIDs(newID func() string) Option { return func(s *Store) { s.newID = newID } }

// WithUpcaster sets the function that brings old event schemas up to date on
// every read.
func WithUpcaster(u Upcaster) Option { return func(s *Store) { s.upcast = u } }

// WithSnapshotEvery sets K: a snapshot is written each time a stream's
// version crosses a multiple of K, at the price of 1/K writes per event.
// Snapshots are what a state as of a time starts from, so K bounds what
// AsOf reads (one snapshot and at most K+1 commits), and what a load reads
// when the head does not keep the state.
func WithSnapshotEvery(k int64) Option { return func(s *Store) { s.snapshotEvery = k } }

// WithLogger sets where the store reports what it recovers from by itself
// (a failed snapshot write, an unreadable snapshot).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithCache keeps the states this store's aggregates see in c, for
// Aggregate.Decide: a command on a stream the instance has seen then costs
// its conditional write alone.
func WithCache(c *Cache) Option { return func(s *Store) { s.cache = c } }

// DefaultSnapshotEvery is K when not configured. With it AsOf reads at most
// one snapshot and 11 commits: 4 read units while commits stay within
// 1 KB (one write unit) and states within 1 KB, for 1/10 of a write unit
// per event.
const DefaultSnapshotEvery = 10

// New returns a store over the backend. Ids default to UUIDv7 and the clock
// to time.Now.
func New(b Backend, opts ...Option) *Store {
	s := &Store{
		backend:       b,
		now:           time.Now,
		newID:         func() string { return uuid.Must(uuid.NewV7()).String() },
		upcast:        func(e Event) (Event, error) { return e, nil },
		snapshotEvery: DefaultSnapshotEvery,
		log:           slog.Default(),
		backoff: func(attempt int) time.Duration {
			d := 20 * time.Millisecond << min(attempt, 6)
			return d/2 + rand.N(d/2+1)
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Pending is one commit to append: events on a stream at its observed head.
type Pending struct {
	Head   Head
	Events []NewEvent
	Meta   Metadata

	// fold, set by Aggregate.Pending, computes the state after the
	// commit's events, to be kept with the commit when it fits.
	fold func([]Event) (foldKey string, state []byte, evolved any)
}

// Guard makes a command with an outside identity (an idempotency key, a
// process manager step) apply at most once: it is written in the same
// transaction as the commits, and if the command ran before, the append
// writes nothing and returns an *AlreadyAppliedError with Outcome.
type Guard struct {
	Tenant    string
	CommandID string
	// Outcome is what to hand back to a repeat of the command.
	Outcome []byte
	// Fingerprint, if set, names the request the command came from; a
	// repeat is given it back with the outcome, to tell a retry of the
	// same request from another request under the same identity.
	Fingerprint string
	// ExpiresAt, if set, frees the command's identity from then on: a
	// command under it is a new command (an idempotency key is kept for
	// a day, a process manager's step forever).
	ExpiresAt time.Time
}

// guardWrite is the write of a guard, at the commit that rec locates (or
// at none).
func (s *Store) guardWrite(g *Guard, rec guardRecord) (*guardRecord, Write, error) {
	if g.CommandID == "" || g.Tenant == "" {
		return nil, Write{}, fmt.Errorf("%w: a guard needs a tenant and a command id", ErrInvalid)
	}
	rec.tenant, rec.commandID = g.Tenant, g.CommandID
	rec.outcome, rec.fingerprint, rec.expiresAt = g.Outcome, g.Fingerprint, g.ExpiresAt
	it := rec.item()
	if size := ItemSize(it); size > MaxItemSize {
		return nil, Write{}, &TooLargeError{What: "guard of command " + g.CommandID, Size: size, Limit: MaxItemSize}
	}
	// An expired guard is no guard, whether or not this one expires: the
	// identity is free again.
	return &rec, Write{Item: it, MustNotExist: true, ExpiredBy: s.now()}, nil
}

// Committed is a commit as recorded.
type Committed struct {
	Head   Head // the stream's new head
	Events []Event

	evolved any // the state after the commit, when its Pending had a fold
}

// Append writes one commit with one conditional write (a transaction when
// guarded) and returns the new head.
func (s *Store) Append(ctx context.Context, head Head, events []NewEvent, meta Metadata, guard *Guard) (Committed, error) {
	out, err := s.AppendAll(ctx, []Pending{{Head: head, Events: events, Meta: meta}}, guard)
	if err != nil {
		return Committed{}, err
	}
	return out[0], nil
}

// AppendAll writes commits on several streams atomically, each at its
// observed head: all of them or none.
func (s *Store) AppendAll(ctx context.Context, pending []Pending, guard *Guard) ([]Committed, error) {
	commits, err := s.build(pending)
	if err != nil {
		return nil, err
	}
	writes := make([]Write, 0, len(commits)+1)
	total := 0
	evolved := make([]any, len(commits))
	for i, c := range commits {
		it := c.item()
		if f := pending[i].fold; f != nil {
			var fk string
			var st []byte
			fk, st, evolved[i] = f(c.events)
			commits[i], it = c.withState(fk, st)
		}
		if size := ItemSize(it); size > MaxItemSize {
			return nil, &TooLargeError{What: fmt.Sprintf("commit of %s at %d", c.stream, c.first), Size: size, Limit: MaxItemSize}
		} else {
			total += size
		}
		writes = append(writes, Write{Item: it, MustNotExist: true})
	}
	var g *guardRecord
	if guard != nil {
		var w Write
		c := commits[0]
		if g, w, err = s.guardWrite(guard, guardRecord{stream: c.stream, version: c.first, commitID: c.id, recordedAt: c.recordedAt}); err != nil {
			return nil, err
		}
		total += ItemSize(w.Item)
		writes = append(writes, w)
	}
	if len(writes) > 1 && total > MaxTransactionSize {
		return nil, &TooLargeError{What: "transaction", Size: total, Limit: MaxTransactionSize}
	}
	if len(writes) > MaxTransactionOps {
		return nil, fmt.Errorf("%w: %d writes in one transaction, the limit is %d", ErrInvalid, len(writes), MaxTransactionOps)
	}

	if err := s.write(ctx, writes, commits[0].id, commits, g); err != nil {
		return nil, err
	}
	out := make([]Committed, len(commits))
	for i, c := range commits {
		last := c.events[len(c.events)-1]
		out[i] = Committed{
			Head:    Head{stream: c.stream, version: last.Version, recordedAt: c.recordedAt, observed: true},
			Events:  c.events,
			evolved: evolved[i],
		}
	}
	return out, nil
}

// build turns pending commits into commits with ids, versions and times.
func (s *Store) build(pending []Pending) ([]commit, error) {
	if len(pending) == 0 {
		return nil, fmt.Errorf("%w: nothing to append", ErrInvalid)
	}
	now := s.now().UTC()
	seen := map[StreamID]bool{}
	commits := make([]commit, len(pending))
	for i, p := range pending {
		h := p.Head
		if !h.observed {
			return nil, fmt.Errorf("%w: the head was not observed (use NewStream, Load or a previous Append)", ErrInvalid)
		}
		if h.archived {
			return nil, fmt.Errorf("append %s at %d: %w", h.stream, h.version+1, ErrArchived)
		}
		if err := h.stream.Validate(); err != nil {
			return nil, err
		}
		if seen[h.stream] {
			return nil, fmt.Errorf("%w: two commits on %s in one append", ErrInvalid, h.stream)
		}
		seen[h.stream] = true
		if len(p.Events) == 0 {
			return nil, fmt.Errorf("%w: commit on %s has no events", ErrInvalid, h.stream)
		}
		// recordedAt never goes backwards within a stream, whatever the
		// clocks of the writers say.
		recorded := now
		if h.recordedAt.After(recorded) {
			recorded = h.recordedAt
		}
		c := commit{id: s.newID(), stream: h.stream, first: h.version + 1, recordedAt: recorded, meta: p.Meta}
		for j, e := range p.Events {
			if e.Type == "" || e.SchemaVersion < 1 {
				return nil, fmt.Errorf("%w: event %d on %s needs a type and a schema version >= 1", ErrInvalid, j, h.stream)
			}
			if !json.Valid(e.Data) {
				return nil, fmt.Errorf("%w: event %d (%s) on %s: data is not JSON", ErrInvalid, j, e.Type, h.stream)
			}
			occurred := e.OccurredAt
			if occurred.IsZero() {
				occurred = now
			}
			c.events = append(c.events, Event{
				ID: s.newID(), Stream: h.stream, Version: c.first + int64(j),
				Type: e.Type, SchemaVersion: e.SchemaVersion,
				OccurredAt: occurred.UTC(), RecordedAt: recorded,
				Data: append(json.RawMessage(nil), e.Data...), CommitID: c.id, Metadata: p.Meta,
			})
		}
		commits[i] = c
	}
	return commits, nil
}

// write sends the writes until the answer is definite. An unknown outcome
// (timeout, 5xx, throttling) is resent identically, never decided again; if
// an earlier attempt did land, the conditions now fail on our own items,
// which ALL_OLD lets us recognise by their commit ids.
func (s *Store) write(ctx context.Context, writes []Write, token string, commits []commit, g *guardRecord) error {
	for attempt := 0; ; attempt++ {
		err := s.backend.Write(ctx, writes, token)
		if err == nil {
			return nil
		}
		var cf *ConditionFailedError
		if errors.As(err, &cf) {
			return s.explain(cf, commits, g)
		}
		var busy *ContendedError
		if g != nil && errors.As(err, &busy) && slices.Contains(busy.Writes, len(commits)) {
			// Another request is writing this very command right now.
			return fmt.Errorf("command %s: %w", g.commandID, ErrInFlight)
		}
		if !errors.Is(err, ErrUnknownOutcome) && !errors.Is(err, ErrThrottled) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", describe(commits, g), ErrUnknownOutcome, err)
		case <-time.After(s.backoff(attempt)):
		}
	}
}

// describe names what a write was for, in its errors.
func describe(commits []commit, g *guardRecord) string {
	if len(commits) == 0 {
		return "record the outcome of command " + g.commandID
	}
	return fmt.Sprintf("append %s at %d", commits[0].stream, commits[0].first)
}

// explain turns failed conditions into the caller's outcome.
func (s *Store) explain(cf *ConditionFailedError, commits []commit, g *guardRecord) error {
	expected := func(i int) string {
		if i < len(commits) {
			return commits[i].id
		}
		return g.commitID
	}
	writes := len(commits)
	if g != nil {
		writes++
	}
	ours := 0
	for _, f := range cf.Failed {
		if f.Index < writes && optStr(f.Existing, attrCommitID) == expected(f.Index) {
			ours++
		}
	}
	if ours == writes {
		// Every item is there already, written by an earlier attempt of this
		// very call whose answer was lost.
		return nil
	}
	// A guard that exists means the command ran before. That wins over any
	// conflict, since deciding again is exactly what a guard prevents.
	for _, f := range cf.Failed {
		if g != nil && f.Index == len(commits) {
			prev, err := decodeGuard(f.Existing)
			if err != nil {
				return fmt.Errorf("command %s: unreadable guard: %w", g.commandID, err)
			}
			applied := prev.applied()
			applied.conflicted = len(cf.Failed) > 1
			return applied
		}
	}
	for _, f := range cf.Failed {
		if f.Index < len(commits) && kindOf(f.Existing) == kindArchived {
			c := commits[f.Index]
			return fmt.Errorf("append %s at %d: %w", c.stream, c.first, ErrArchived)
		}
	}
	for _, f := range cf.Failed {
		if f.Index < len(commits) {
			c := commits[f.Index]
			return &ConflictError{Stream: c.stream, Version: c.first, taken: f.Existing}
		}
	}
	return fmt.Errorf("conditional write failed on unknown writes: %w", cf)
}

// RecordOutcome keeps the outcome of a guarded command that wrote no
// commit (a refusal, or a command that found nothing to change), with one
// conditional write, so that a repeat is given it back as any other. If the
// command ran before, it writes nothing and returns the
// *AlreadyAppliedError that a repeat would get.
func (s *Store) RecordOutcome(ctx context.Context, guard Guard) error {
	// The guard has an id of its own, as a commit has, so that a resent
	// write that finds it recognises itself.
	g, w, err := s.guardWrite(&guard, guardRecord{commitID: s.newID(), recordedAt: s.now().UTC()})
	if err != nil {
		return err
	}
	return s.write(ctx, []Write{w}, g.commitID, nil, g)
}

// CheckGuard returns the recorded outcome of a command that ran before as an
// *AlreadyAppliedError, or nil if it never ran. It lets a caller skip
// deciding a command it has seen; the guard in the write is what makes
// exactly-once hold.
func (s *Store) CheckGuard(ctx context.Context, tenant, commandID string) error {
	it, err := s.backend.Get(ctx, guardPartition(tenant, commandID), commitKey(0))
	if err != nil || it == nil {
		return err
	}
	g, err := decodeGuard(it)
	if err != nil {
		return fmt.Errorf("command %s: unreadable guard: %w", commandID, err)
	}
	if Expired(it, s.now()) {
		return nil
	}
	return g.applied()
}

// CommitSize is the size, by DynamoDB's rules, of the item that appending
// these events would write; Append refuses it above MaxItemSize.
func (s *Store) CommitSize(p Pending) (int, error) {
	commits, err := s.build([]Pending{p})
	if err != nil {
		return 0, err
	}
	return ItemSize(commits[0].item()), nil
}
