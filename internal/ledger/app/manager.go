package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/xray"
	"annals/internal/ledger/account"
	"annals/internal/ledger/transfer"
)

// TransfersActor is who the process manager's commits say acted.
const TransfersActor = "transfers"

// Manager is the transfers process manager: it drives a transfer from its
// stream's current state, one guarded multi-stream commit per step.
type Manager struct {
	transfers *Transfers
	accounts  *Accounts
	log       *slog.Logger
	budget    time.Duration
}

// NewManager returns a manager over the events store. A step that loses
// the race for one of its streams' heads (another writer moved it between
// the load and the commit) is decided again for up to budget
// (eventstore.DefaultConflictBudget when zero) before Drive gives up with
// the conflict, which a redelivery then retries.
func NewManager(store *eventstore.Store, log *slog.Logger, budget time.Duration) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{transfers: NewTransfers(store), accounts: NewAccounts(store), log: log, budget: budget}
}

// Transfers returns the transfer streams the manager reads.
func (m *Manager) Transfers() *Transfers { return m.transfers }

// Drive takes the transfer as far as it goes (completed or failed) and
// returns its state. It acts on the transfer's stream as loaded, never on
// the event that woke it, so a duplicate, late or reordered delivery, or a
// run after a crash between steps, only finds less (or nothing) to do.
func (m *Manager) Drive(ctx context.Context, stream eventstore.StreamID) (transfer.Transfer, error) {
	var (
		last  eventstore.Head
		known written // what the last step wrote
	)
	for {
		var (
			cur  eventstore.Current[transfer.Transfer]
			step string
		)
		err := eventstore.RetryConflicts(ctx, m.budget, func(attempt int) error {
			seen := known
			known = written{}
			if seen.transfer != nil && attempt == 1 {
				cur = *seen.transfer
			} else {
				// First, or after a lost race: read everything afresh.
				seen = written{}
				var err error
				if cur, err = m.transfers.Load(ctx, stream); err != nil {
					return fmt.Errorf("load transfer %s: %w", stream, err)
				}
			}
			if step = cur.State.Next(); step == "" {
				return nil
			}
			var err error
			known, err = m.step(ctx, cur, step, seen)
			return err
		})
		t := cur.State
		switch {
		case err == nil && t.Next() == "":
			return t, nil
		case err == nil:
			// On to the next step, from the stream as it now is.
		case errors.Is(err, eventstore.ErrAlreadyApplied):
			// Another run took this step; the reload shows it. A guard
			// the stream does not reflect twice in a row (a restored or
			// damaged table) would loop forever: stop and say so.
			if cur.Head.Version() == last.Version() && last.Version() != 0 {
				return t, fmt.Errorf("transfer %s, step %s: the step's guard exists but the transfer's stream stays at version %d: %w", stream.ID, step, cur.Head.Version(), err)
			}
			last = cur.Head
		case step == "":
			return t, err
		default:
			return t, fmt.Errorf("transfer %s, step %s: %w", stream.ID, step, err)
		}
	}
}

// written is what a step's commit left: each stream it wrote, at the head
// it made, with the state it computed for it. The next step is decided on
// them without a read. They are only ever the expected heads of that
// step's conditional commit, so a stream another writer moved since costs
// a lost race, and a retry that reads everything, never a step decided on
// a state the stream was not at.
type written struct {
	transfer *eventstore.Current[transfer.Transfer]
	accounts map[eventstore.StreamID]eventstore.Current[account.Account]
}

// step loads the accounts the transfer's next step reads (unless the last
// step wrote them), decides the step and commits it.
func (m *Manager) step(ctx context.Context, cur eventstore.Current[transfer.Transfer], next string, seen written) (written, error) {
	t, tenant := cur.State, cur.Head.Stream().Tenant
	from, err := m.account(ctx, tenant, t.FromAccountID, seen)
	if err != nil {
		return written{}, err
	}
	if next == transfer.StepDebit {
		s, err := transfer.Debit(t, from.State)
		if err != nil {
			return written{}, err
		}
		return m.commit(ctx, cur, s, leg{from, s.From})
	}
	to, err := m.account(ctx, tenant, t.ToAccountID, seen)
	if err != nil {
		return written{}, err
	}
	s, err := transfer.Credit(t, from.State, to.State)
	if err != nil {
		return written{}, err
	}
	return m.commit(ctx, cur, s, leg{to, s.To}, leg{from, s.From})
}

// account loads an account as a step reads it, or takes it as the last
// step wrote it: one that does not exist, or that no stream could hold, is
// the zero Account, which the steps refuse as not found.
func (m *Manager) account(ctx context.Context, tenant, id string, seen written) (eventstore.Current[account.Account], error) {
	stream, err := AccountStream(tenant, id)
	if err != nil {
		return eventstore.Current[account.Account]{}, nil
	}
	if cur, ok := seen.accounts[stream]; ok {
		return cur, nil
	}
	cur, err := m.accounts.Load(ctx, stream)
	if errors.Is(err, eventstore.ErrNotFound) {
		return eventstore.Current[account.Account]{}, nil
	}
	return cur, err
}

// leg is one account's part of a step's commit.
type leg struct {
	cur    eventstore.Current[account.Account]
	events []account.Event
}

// commit appends the step's event to the transfer and the accounts' events
// to theirs, each at its observed head, with the step's guard: all or none,
// once. It returns what it wrote.
func (m *Manager) commit(ctx context.Context, cur eventstore.Current[transfer.Transfer], s transfer.Step, accounts ...leg) (written, error) {
	t := cur.State
	commandID := t.ID + "/" + s.Name
	meta := eventstore.Metadata{
		CommandID: commandID, CorrelationID: t.CorrelationID,
		// The step follows from the transfer's stream at this version.
		CausationID: fmt.Sprintf("%s@%d", cur.Head.Stream().Key(), cur.Head.Version()),
		Actor:       TransfersActor,
		TraceID:     xray.FromContext(ctx),
	}
	tevs, err := EncodeTransfer(s.Progress)
	if err != nil {
		return written{}, err
	}
	// Built by the aggregates, so that each commit keeps its stream's state.
	pending := []eventstore.Pending{m.transfers.Pending(cur, tevs, meta)}
	for _, a := range accounts {
		if len(a.events) == 0 {
			continue
		}
		evs, err := Encode(a.events)
		if err != nil {
			return written{}, err
		}
		pending = append(pending, m.accounts.Pending(a.cur, evs, meta))
	}
	guard := &eventstore.Guard{Tenant: cur.Head.Stream().Tenant, CommandID: commandID}
	committed, err := m.transfers.Store().AppendAll(ctx, pending, guard)
	if err != nil {
		return written{}, err
	}
	// The step is recorded; what follows keeps every stream's loads
	// bounded, with a snapshot when a commit crossed a multiple of K, and
	// hands the states it computed to the next step. A state that cannot
	// be computed is left out: the next step reads it.
	w := written{accounts: map[eventstore.StreamID]eventstore.Current[account.Account]{}}
	if next, err := m.transfers.Advance(ctx, cur, committed[0]); err != nil {
		m.log.WarnContext(ctx, "transfer state after a step", "transfer", t.ID, "error", err.Error())
	} else {
		w.transfer = &next
	}
	i := 1
	for _, a := range accounts {
		if len(a.events) == 0 {
			continue
		}
		if next, err := m.accounts.Advance(ctx, a.cur, committed[i]); err != nil {
			m.log.WarnContext(ctx, "account state after a transfer step", "transfer", t.ID, "account", a.cur.State.ID, "error", err.Error())
		} else {
			w.accounts[next.Head.Stream()] = next
		}
		i++
	}
	// What the step wrote, for following the transfer's request (annals
	// trace): each stream at the version its commit ends at.
	commits := make([]string, len(committed))
	for i, c := range committed {
		commits[i] = fmt.Sprintf("%s@%d", c.Head.Stream().Key(), c.Head.Version())
	}
	args := []any{"transfer", t.ID, "step", s.Name, "correlationId", t.CorrelationID,
		"stream", cur.Head.Stream().Key(), "version", committed[0].Head.Version(), "commits", commits}
	if meta.TraceID != "" {
		args = append(args, "traceId", meta.TraceID)
	}
	m.log.InfoContext(ctx, "transfer step", args...)
	return w, nil
}
