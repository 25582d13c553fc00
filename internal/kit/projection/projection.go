package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"annals/internal/kit/eventstore"
)

// EventReader reads a stream's events from the events table with
// consistent reads; *eventstore.Store is one.
type EventReader interface {
	Read(ctx context.Context, stream eventstore.StreamID, from int64, limit int) (eventstore.EventPage, error)
}

// maxStaleRetries bounds how often one commit is re-judged after another
// writer moved the position under it.
const maxStaleRetries = 5

// Position is where one stream stands in one view: the last applied
// version, that event's recordedAt, and the quarantine, if any.
type Position struct {
	Version    int64
	UpdatedAt  time.Time
	Quarantine *Quarantine
}

// Quarantine records why and where a stream stopped in a view.
type Quarantine struct {
	Reason string
	// At is the version of the event that could not be applied (for a
	// record whose envelope did not decode: the next version expected).
	At int64
}

// ErrStale is returned by a view store's conditional write when the stored
// position is no longer the expected one: another writer moved it; reload
// and judge again.
var ErrStale = errors.New("the view's position moved")

// Model is what a read model adds to the ordering rules every view shares
// (see Projection): how to load a stream's state, fold one event into it,
// and store it together with the position.
type Model[S any] interface {
	// Load returns the stream's state and position (consistent read); a
	// stream never seen has the zero state at position 0.
	Load(ctx context.Context, stream eventstore.StreamID) (S, Position, error)
	// Fold returns the state after e. An error means e can never be
	// folded: it is poison. A type the model does not use returns s. It
	// reads e's data through Decoded, so that what the projector decoded
	// once serves every view.
	Fold(s S, e Event) (S, error)
	// Save stores s with pos in one write, conditional on the stored
	// position being expected (or absent, for 0); ErrStale otherwise.
	Save(ctx context.Context, stream eventstore.StreamID, s S, pos Position, expected int64) error
}

// Remembering is a Model whose state may be kept in memory from one batch
// to the next, so that a stream the projector has just written is not read
// again: Kept returns the state as Load would return it right after Save
// stored s at pos (a model whose state holds what its next Save writes,
// such as entries to append, drops that here). Its Fold must return a new
// state and leave s as it was: a remembered state is folded on again.
//
// A projection believes only what it wrote itself. Another instance that
// quarantined the stream at the version believed (a record that did not
// decode) is written over by the next batch this one applies: its events
// come from the events table, so the row is the fold all the same, and
// the quarantine's dead letter is left to a redrive that finds nothing to
// lift. A poison event is never written over: a quarantine reads first.
type Remembering[S any] interface {
	Kept(s S, pos Position) S
}

// DefaultRemembered is how many streams a view keeps in memory.
const DefaultRemembered = 10_000

// Projection keeps one read model current, restoring order per stream by
// itself: an event at or below the stored position is a duplicate and is
// skipped; the next version is applied; a gap is filled at once from the
// events table; event types the model does not use still advance the
// position; poison is dead-lettered and quarantines the stream in this
// view only.
type Projection[S any] struct {
	name     string
	category string
	model    Model[S]
	events   EventReader
	dead     *DeadLetters
	log      *slog.Logger
	// known holds the streams this projection wrote last, when the model
	// is Remembering.
	known *memory[S]
	// readFirst: no belief that a stream's first record finds no row.
	readFirst bool
}

// ReadFirst makes the projection read the row of a stream whose first
// record it applies instead of believing there is none: for a rebuild
// resumed over a table it has filled already, where that belief would be
// wrong for every stream and cost each a refused write.
func (p *Projection[S]) ReadFirst() { p.readFirst = true }

// New returns the projection named name (in logs and dead letters) that
// keeps m current from the streams of category: gaps are filled from
// events, poison goes to dead.
func New[S any](name, category string, m Model[S], events EventReader, dead *DeadLetters, log *slog.Logger) *Projection[S] {
	if log == nil {
		log = slog.Default()
	}
	p := &Projection[S]{name: name, category: category, model: m, events: events, dead: dead, log: log}
	if _, ok := m.(Remembering[S]); ok {
		p.known = newMemory[S](DefaultRemembered)
	}
	return p
}

// Name is the view's name.
func (p *Projection[S]) Name() string { return p.name }

// Holds reports whether the view keeps streams like this one (of its
// category).
func (p *Projection[S]) Holds(stream eventstore.StreamID) bool { return stream.Category == p.category }

// Apply brings the view of one commit's stream up to the commit's last
// event. It returns only infrastructure errors: poison is dead-lettered
// and quarantines the stream, which is not an error for the batch.
func (p *Projection[S]) Apply(ctx context.Context, commit []eventstore.Event) error {
	if len(commit) == 0 || commit[0].Stream.Category != p.category {
		return nil
	}
	// Nothing decoded them: the model decodes each event itself.
	return p.ApplyDecoded(ctx, decodeAll(nil, commit))
}

// ApplyDecoded is Apply of events the projector has decoded for all its
// views.
func (p *Projection[S]) ApplyDecoded(ctx context.Context, commit []Event) error {
	if len(commit) == 0 {
		return nil
	}
	stream := commit[0].Stream
	if stream.Category != p.category {
		return nil
	}
	// The first attempt may start from what the projection believes the
	// row holds (see start); once the row says otherwise, from a read.
	believe := true
	return p.retryStale(stream, func() error {
		err := p.apply(ctx, stream, commit, believe)
		if err != nil {
			// Whatever the attempt folded or found, the next one reads.
			p.known.forget(stream)
		}
		believe = false
		return err
	})
}

// errUnsure sends an attempt that started from a belief back to a read
// before it takes a step that is not undone by a refused write (a dead
// letter, a quarantine).
var errUnsure = fmt.Errorf("%w: a belief is not enough to quarantine", ErrStale)

// start returns the stream's state and position without reading the view
// when it can be believed: the row this projection wrote last, or no row
// at all when the run starts the stream (version 1). Every write is
// conditional on the position it starts from, so a wrong belief costs a
// refused write and a read, never a wrong row. A quarantined stream is
// never believed: an operator may lift it at the same version.
func (p *Projection[S]) start(ctx context.Context, stream eventstore.StreamID, first int64, believe bool) (state S, pos Position, believed bool, err error) {
	if believe {
		if r, ok := p.known.get(stream); ok {
			return r.state, r.pos, true, nil
		}
		if first == 1 && !p.readFirst {
			return state, pos, true, nil
		}
	}
	state, pos, err = p.model.Load(ctx, stream)
	return state, pos, false, err
}

// settle remembers what a write stored, or forgets the stream when the
// write failed or quarantined it.
func (p *Projection[S]) settle(stream eventstore.StreamID, state S, pos Position, err error) {
	if err != nil || pos.Quarantine != nil {
		p.known.forget(stream)
		return
	}
	if r, ok := p.model.(Remembering[S]); ok {
		p.known.put(stream, r.Kept(state, pos), pos)
	}
}

// retryStale runs f again while another writer moves the position under it.
func (p *Projection[S]) retryStale(stream eventstore.StreamID, f func() error) error {
	for range maxStaleRetries {
		err := f()
		if !errors.Is(err, ErrStale) {
			return err
		}
	}
	return fmt.Errorf("%s view of %s: %w %d times in a row", p.name, stream, ErrStale, maxStaleRetries)
}

func (p *Projection[S]) apply(ctx context.Context, stream eventstore.StreamID, commit []Event, believe bool) error {
	state, pos, believed, err := p.start(ctx, stream, commit[0].Version, believe)
	if err != nil {
		return err
	}
	if pos.Quarantine != nil {
		p.log.WarnContext(ctx, "projection skipped an event of a quarantined stream",
			"view", p.name, "stream", stream.Key(), "version", commit[0].Version,
			"quarantinedAt", pos.Quarantine.At)
		return nil
	}
	at := pos.Version
	// Versions ascend, so what is new is the commit's tail.
	newer := slices.IndexFunc(commit, func(e Event) bool { return e.Version > at })
	if newer < 0 {
		return nil // a duplicate
	}
	pending := commit[newer:]
	if first := pending[0].Version; first > at+1 {
		missing, err := p.fill(ctx, stream, at+1, first-1)
		var poison *PoisonError
		if errors.As(err, &poison) {
			if err := p.confirm(ctx, stream, pos, believed); err != nil {
				return err
			}
			return p.quarantine(ctx, stream, state, pos, at, poison)
		}
		if err != nil {
			return err
		}
		pending = append(missing, pending...)
	}

	next, nextPos := state, pos
	for _, e := range pending {
		folded, err := p.model.Fold(next, e)
		if err != nil {
			if err := p.confirm(ctx, stream, pos, believed); err != nil {
				return err
			}
			// What came before the poison is applied with the quarantine.
			return p.quarantine(ctx, stream, next, nextPos, at, &PoisonError{Event: e.Event, Reason: err.Error()})
		}
		next, nextPos.Version, nextPos.UpdatedAt = folded, e.Version, e.RecordedAt.UTC()
	}
	err = p.model.Save(ctx, stream, next, nextPos, at)
	p.settle(stream, next, nextPos, err)
	if err == nil {
		p.logApplied(ctx, pending)
	}
	if invalidWrite(err) {
		if err := p.confirm(ctx, stream, pos, believed); err != nil {
			return err
		}
		return p.quarantine(ctx, stream, state, pos, at, &PoisonError{Event: pending[0].Event, Reason: err.Error()})
	}
	return err
}

// confirm reads the row before a quarantine that started from a belief:
// a dead letter is not taken back by a refused write, so the belief must
// hold first. The row at the believed position holds the believed state
// (only this projection writes a new version of it).
func (p *Projection[S]) confirm(ctx context.Context, stream eventstore.StreamID, pos Position, believed bool) error {
	if !believed {
		return nil
	}
	_, stored, err := p.model.Load(ctx, stream)
	switch {
	case err != nil:
		return err
	case stored.Version != pos.Version || stored.Quarantine != nil:
		return errUnsure
	}
	return nil
}

// fill reads versions from..to of the stream from the events table, for
// the view to decode. A version that the table does not hold cannot come
// later (a consistent read sees every commit, and versions have no holes),
// so it is poison.
func (p *Projection[S]) fill(ctx context.Context, stream eventstore.StreamID, from, to int64) ([]Event, error) {
	var out []Event
	for next := from; next <= to; {
		page, err := p.events.Read(ctx, stream, next, int(min(to-next+1, 1000)))
		if err != nil && !errors.Is(err, eventstore.ErrNotFound) {
			return nil, fmt.Errorf("fill the gap of %s from %d to %d: %w", stream, from, to, err)
		}
		if len(page.Events) == 0 || page.Events[0].Version != next {
			missing := eventstore.Event{Stream: stream, Version: next}
			return nil, &PoisonError{Event: missing, Reason: fmt.Sprintf("gap from %d to %d: the events table has no version %d", from, to, next)}
		}
		for _, e := range page.Events {
			if e.Version > to {
				break
			}
			if e.Version != next {
				return nil, &PoisonError{Event: e, Reason: fmt.Sprintf("gap from %d to %d: version %d read where %d was due", from, to, e.Version, next)}
			}
			out = append(out, Event{Event: e})
			next++
		}
	}
	return out, nil
}

// quarantine sends the poison event to the dead-letter queue, then stores
// the stream as quarantined with state and pos, in one write conditional
// on the position read (at). The letter goes first: if the write fails,
// the retry sends it again, which is better than a quarantine without its
// letter.
func (p *Projection[S]) quarantine(ctx context.Context, stream eventstore.StreamID, state S, pos Position, at int64, poison *PoisonError) error {
	if err := p.dead.Send(ctx, eventLetter(p.name, poison.Event, poison.Reason)); err != nil {
		return err
	}
	pos.Quarantine = &Quarantine{Reason: poison.Reason, At: poison.Event.Version}
	err := p.model.Save(ctx, stream, state, pos, at)
	p.settle(stream, state, pos, err)
	if err != nil {
		return err
	}
	p.log.ErrorContext(ctx, "projection quarantined a stream at a poison event; redrive it once fixed",
		"view", p.name, "stream", stream.Key(), "version", poison.Event.Version, "reason", poison.Reason,
		"correlationId", poison.Event.CorrelationID)
	return nil
}

// Quarantine stops the stream in the view at its next version, for a
// record that names the stream but whose events cannot be read. The dead
// letter is the caller's.
func (p *Projection[S]) Quarantine(ctx context.Context, stream eventstore.StreamID, reason string) error {
	if stream.Category != p.category {
		return nil
	}
	return p.retryStale(stream, func() error {
		state, pos, err := p.model.Load(ctx, stream)
		if err != nil || pos.Quarantine != nil {
			return err
		}
		pos.Quarantine = &Quarantine{Reason: reason, At: pos.Version + 1}
		err = p.model.Save(ctx, stream, state, pos, pos.Version)
		p.settle(stream, state, pos, err)
		if err != nil {
			return err
		}
		p.log.ErrorContext(ctx, "projection quarantined a stream at an unreadable record; redrive it once fixed",
			"view", p.name, "stream", stream.Key(), "version", pos.Version+1, "reason", reason)
		return nil
	})
}

// Status returns the stream's position in the view, with its quarantine.
func (p *Projection[S]) Status(ctx context.Context, stream eventstore.StreamID) (Position, error) {
	_, pos, err := p.model.Load(ctx, stream)
	return pos, err
}

// Lift lifts the stream's quarantine, if any, and brings the view up to
// the events table's head: the redrive once the cause is fixed. It reads
// from the position on, so nothing republished is needed, and it is safe
// to run again. It returns the position reached; a stream that is still
// poisoned is quarantined again and returned with its new quarantine.
func (p *Projection[S]) Lift(ctx context.Context, stream eventstore.StreamID) (Position, error) {
	if stream.Category != p.category {
		return Position{}, fmt.Errorf("the %s view holds no %q streams", p.name, stream.Category)
	}
	err := p.retryStale(stream, func() error {
		state, pos, err := p.model.Load(ctx, stream)
		if err != nil || pos.Quarantine == nil {
			return err
		}
		q := pos.Quarantine
		pos.Quarantine = nil
		err = p.model.Save(ctx, stream, state, pos, pos.Version)
		p.settle(stream, state, pos, err)
		if err != nil {
			return err
		}
		p.log.InfoContext(ctx, "projection lifted a quarantine",
			"view", p.name, "stream", stream.Key(), "version", pos.Version, "reason", q.Reason)
		return nil
	})
	if err != nil {
		return Position{}, err
	}
	for {
		_, pos, err := p.model.Load(ctx, stream)
		if err != nil || pos.Quarantine != nil {
			return pos, err
		}
		page, err := p.events.Read(ctx, stream, pos.Version+1, 1000)
		if errors.Is(err, eventstore.ErrNotFound) || err == nil && len(page.Events) == 0 {
			return pos, nil
		}
		if err != nil {
			return pos, fmt.Errorf("lift %s in the %s view: %w", stream, p.name, err)
		}
		if err := p.Apply(ctx, page.Events); err != nil {
			return pos, err
		}
	}
}
