package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"annals/internal/eventstore"
	"annals/internal/ledger"
	"annals/internal/ledgerstore"
)

// EventReader reads a stream's events from the events table with
// consistent reads; *eventstore.Store is one.
type EventReader interface {
	Read(ctx context.Context, stream eventstore.StreamID, from int64, limit int) (eventstore.EventPage, error)
}

// AccountsView is the name of the account view in logs and dead letters.
const AccountsView = "accounts"

// maxStaleRetries bounds how often one commit is re-judged after another
// writer moved the position under it.
const maxStaleRetries = 5

// usedTypes are the event types the account view folds; any other type on
// an account stream only advances the position.
var usedTypes = map[string]bool{
	ledger.TypeAccountOpened:    true,
	ledger.TypeMoneyDeposited:   true,
	ledger.TypeMoneyWithdrawn:   true,
	ledger.TypeAccountClosed:    true,
	ledger.TypeTransferOutBegun: true,
	ledger.TypeTransferOutEnded: true,
}

// Accounts keeps the account view: per account stream, the ledger's own
// fold of its events, so that the view always equals what the domain
// would rebuild.
type Accounts struct {
	store  AccountStore
	events EventReader
	dead   *DeadLetters
	log    *slog.Logger
}

// NewAccounts returns the account view over store, filling gaps from
// events and sending poison to dead.
func NewAccounts(store AccountStore, events EventReader, dead *DeadLetters, log *slog.Logger) *Accounts {
	if log == nil {
		log = slog.Default()
	}
	return &Accounts{store: store, events: events, dead: dead, log: log}
}

// Name is the view's name.
func (a *Accounts) Name() string { return AccountsView }

// Apply brings the view of one commit's stream up to the commit's last
// event. It returns only infrastructure errors: poison is dead-lettered
// and quarantines the stream, which is not an error for the batch.
func (a *Accounts) Apply(ctx context.Context, commit []eventstore.Event) error {
	if len(commit) == 0 {
		return nil
	}
	stream := commit[0].Stream
	if stream.Category != ledgerstore.AccountCategory {
		return nil
	}
	for range maxStaleRetries {
		err := a.apply(ctx, stream, commit)
		if !errors.Is(err, ErrStale) {
			return err
		}
	}
	return fmt.Errorf("apply %s up to %d: %w %d times in a row", stream, commit[len(commit)-1].Version, ErrStale, maxStaleRetries)
}

func (a *Accounts) apply(ctx context.Context, stream eventstore.StreamID, commit []eventstore.Event) error {
	row, _, err := a.store.Account(ctx, stream.Tenant, stream.ID)
	if err != nil {
		return err
	}
	if row.Quarantine != nil {
		a.log.WarnContext(ctx, "projection skipped an event of a quarantined stream",
			"view", AccountsView, "stream", stream.Key(), "version", commit[0].Version,
			"quarantinedAt", row.Quarantine.At)
		return nil
	}
	p := row.Version
	var pending []eventstore.Event
	for _, e := range commit {
		if e.Version > p {
			pending = append(pending, e)
		}
	}
	if len(pending) == 0 {
		return nil // a duplicate
	}
	if first := pending[0].Version; first > p+1 {
		missing, err := a.fill(ctx, stream, p+1, first-1)
		var poison *PoisonError
		if errors.As(err, &poison) {
			return a.quarantine(ctx, stream, row, p, poison)
		}
		if err != nil {
			return err
		}
		pending = append(missing, pending...)
	}

	next := row
	next.Tenant, next.AccountID = stream.Tenant, stream.ID
	var poison *PoisonError
	for _, e := range pending {
		if usedTypes[e.Type] {
			ev, err := ledgerstore.Decode(e)
			if err != nil {
				poison = &PoisonError{Event: e, Reason: err.Error()}
				break
			}
			next.State = ledger.Evolve(next.State, ev)
		}
		next.Version, next.UpdatedAt = e.Version, e.RecordedAt.UTC()
	}
	if poison != nil {
		// What came before the poison is applied with the quarantine.
		return a.quarantine(ctx, stream, next, p, poison)
	}
	err = a.store.PutAccount(ctx, next, p)
	if invalidWrite(err) {
		return a.quarantine(ctx, stream, row, p, &PoisonError{Event: pending[0], Reason: err.Error()})
	}
	return err
}

// fill reads versions from..to of the stream from the events table. A
// version that the table does not hold cannot come later (a consistent
// read sees every commit, and versions have no holes), so it is poison.
func (a *Accounts) fill(ctx context.Context, stream eventstore.StreamID, from, to int64) ([]eventstore.Event, error) {
	var out []eventstore.Event
	for next := from; next <= to; {
		page, err := a.events.Read(ctx, stream, next, int(min(to-next+1, 1000)))
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
			out = append(out, e)
			next++
		}
	}
	return out, nil
}

// quarantine sends the poison event to the dead-letter queue, then stores
// the stream as quarantined with row's state and position, in one write
// conditional on the position read (p). The letter goes first: if the
// write fails, the retry sends it again, which is better than a quarantine
// without its letter.
func (a *Accounts) quarantine(ctx context.Context, stream eventstore.StreamID, row AccountRow, p int64, poison *PoisonError) error {
	if err := a.dead.Send(ctx, eventLetter(AccountsView, poison.Event, poison.Reason)); err != nil {
		return err
	}
	row.Tenant, row.AccountID = stream.Tenant, stream.ID
	row.Quarantine = &Quarantine{Reason: poison.Reason, At: poison.Event.Version}
	if err := a.store.PutAccount(ctx, row, p); err != nil {
		return err
	}
	a.log.ErrorContext(ctx, "projection quarantined a stream at a poison event; redrive it once fixed",
		"view", AccountsView, "stream", stream.Key(), "version", poison.Event.Version, "reason", poison.Reason)
	return nil
}

// Quarantine stops the stream in the view at its next version, for a
// record that names the stream but whose events cannot be read. The dead
// letter is the caller's.
func (a *Accounts) Quarantine(ctx context.Context, stream eventstore.StreamID, reason string) error {
	if stream.Category != ledgerstore.AccountCategory {
		return nil
	}
	for range maxStaleRetries {
		row, _, err := a.store.Account(ctx, stream.Tenant, stream.ID)
		if err != nil {
			return err
		}
		if row.Quarantine != nil {
			return nil
		}
		p := row.Version
		row.Tenant, row.AccountID = stream.Tenant, stream.ID
		row.Quarantine = &Quarantine{Reason: reason, At: p + 1}
		err = a.store.PutAccount(ctx, row, p)
		if !errors.Is(err, ErrStale) {
			if err == nil {
				a.log.ErrorContext(ctx, "projection quarantined a stream at an unreadable record; redrive it once fixed",
					"view", AccountsView, "stream", stream.Key(), "version", p+1, "reason", reason)
			}
			return err
		}
	}
	return fmt.Errorf("quarantine %s: %w %d times in a row", stream, ErrStale, maxStaleRetries)
}
