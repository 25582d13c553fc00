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
	var last eventstore.Head
	for {
		var (
			cur  eventstore.Current[transfer.Transfer]
			step string
		)
		err := eventstore.RetryConflicts(ctx, m.budget, func(int) error {
			var err error
			if cur, err = m.transfers.Load(ctx, stream); err != nil {
				return fmt.Errorf("load transfer %s: %w", stream, err)
			}
			if step = cur.State.Next(); step == "" {
				return nil
			}
			return m.step(ctx, cur, step)
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

// step loads the accounts the transfer's next step reads, decides the step
// and commits it.
func (m *Manager) step(ctx context.Context, cur eventstore.Current[transfer.Transfer], next string) error {
	t, tenant := cur.State, cur.Head.Stream().Tenant
	from, err := m.account(ctx, tenant, t.FromAccountID)
	if err != nil {
		return err
	}
	if next == transfer.StepDebit {
		s, err := transfer.Debit(t, from.State)
		if err != nil {
			return err
		}
		return m.commit(ctx, cur, s, leg{from, s.From})
	}
	to, err := m.account(ctx, tenant, t.ToAccountID)
	if err != nil {
		return err
	}
	s, err := transfer.Credit(t, from.State, to.State)
	if err != nil {
		return err
	}
	return m.commit(ctx, cur, s, leg{to, s.To}, leg{from, s.From})
}

// account loads an account as a step reads it: one that does not exist,
// or that no stream could hold, is the zero Account, which the steps refuse
// as not found.
func (m *Manager) account(ctx context.Context, tenant, id string) (eventstore.Current[account.Account], error) {
	stream, err := AccountStream(tenant, id)
	if err != nil {
		return eventstore.Current[account.Account]{}, nil
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
// once.
func (m *Manager) commit(ctx context.Context, cur eventstore.Current[transfer.Transfer], s transfer.Step, accounts ...leg) error {
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
		return err
	}
	// Built by the aggregates, so that each commit keeps its stream's state.
	pending := []eventstore.Pending{m.transfers.Pending(cur, tevs, meta)}
	for _, a := range accounts {
		if len(a.events) == 0 {
			continue
		}
		evs, err := Encode(a.events)
		if err != nil {
			return err
		}
		pending = append(pending, m.accounts.Pending(a.cur, evs, meta))
	}
	guard := &eventstore.Guard{Tenant: cur.Head.Stream().Tenant, CommandID: commandID}
	committed, err := m.transfers.Store().AppendAll(ctx, pending, guard)
	if err != nil {
		return err
	}
	// The step is recorded; what follows only keeps every stream's loads
	// bounded, with a snapshot when a commit crossed a multiple of K.
	if _, err := m.transfers.Advance(ctx, cur, committed[0]); err != nil {
		m.log.WarnContext(ctx, "transfer state after a step", "transfer", t.ID, "error", err.Error())
	}
	i := 1
	for _, a := range accounts {
		if len(a.events) == 0 {
			continue
		}
		if _, err := m.accounts.Advance(ctx, a.cur, committed[i]); err != nil {
			m.log.WarnContext(ctx, "account state after a transfer step", "transfer", t.ID, "account", a.cur.State.ID, "error", err.Error())
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
	return nil
}
