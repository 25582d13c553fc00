package transfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// Actor is who the process manager's commits say acted.
const Actor = "transfers"

// Steps, as the suffixes of their command ids: a step's guard is
// "<transferId>/<step>", so each step applies once whatever the delivery.
const (
	StepDebit  = "debit"
	StepFail   = "fail"
	StepCredit = "credit"
	StepRefund = "refund"
)

// Manager is the transfers process manager: it drives a transfer from its
// stream's current state, one guarded multi-stream commit per step.
type Manager struct {
	transfers *Transfers
	accounts  *app.Accounts
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
	return &Manager{transfers: NewTransfers(store), accounts: app.NewAccounts(store), log: log, budget: budget}
}

// Transfers returns the transfer streams the manager reads.
func (m *Manager) Transfers() *Transfers { return m.transfers }

// Drive takes the transfer as far as it goes (completed or failed) and
// returns its state. It acts on the transfer's stream as loaded, never on
// the event that woke it, so a duplicate, late or reordered delivery, or a
// run after a crash between steps, only finds less (or nothing) to do.
func (m *Manager) Drive(ctx context.Context, stream eventstore.StreamID) (Transfer, error) {
	var last eventstore.Head
	for {
		var (
			cur  eventstore.Current[Transfer]
			step string
		)
		err := eventstore.RetryConflicts(ctx, m.budget, func(int) error {
			var err error
			if cur, err = m.transfers.Load(ctx, stream); err != nil {
				return fmt.Errorf("load transfer %s: %w", stream, err)
			}
			if cur.State.Status != StatusPending {
				return nil
			}
			step = StepDebit
			if cur.State.Debited {
				step = StepCredit
			}
			return m.step(ctx, cur, step)
		})
		t := cur.State
		switch {
		case err == nil && t.Status != StatusPending:
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

// step runs the debit (or its failure) or the credit (or the refund).
func (m *Manager) step(ctx context.Context, cur eventstore.Current[Transfer], step string) error {
	if step == StepDebit {
		return m.debit(ctx, cur)
	}
	return m.credit(ctx, cur)
}

func (m *Manager) account(ctx context.Context, tenant, id string) (eventstore.Current[account.Account], error) {
	stream, err := app.AccountStream(tenant, id)
	if err != nil {
		// No account can have this id: as good as one that does not exist.
		return eventstore.Current[account.Account]{}, account.ErrAccountNotFound
	}
	cur, err := m.accounts.Load(ctx, stream)
	if errors.Is(err, eventstore.ErrNotFound) {
		return cur, account.ErrAccountNotFound
	}
	return cur, err
}

// decide runs commands on an account in order, each on the state the
// previous ones left.
func decide(a account.Account, cmds ...account.Command) ([]account.Event, error) {
	var out []account.Event
	for _, c := range cmds {
		evs, err := account.Decide(a, c)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			a = account.Evolve(a, e)
		}
		out = append(out, evs...)
	}
	return out, nil
}

// debit takes the amount from the source, marks the transfer out in flight
// (so the source cannot close) and records the debit on the transfer, all
// in one commit; a refusal ends the transfer failed, with nothing moved.
func (m *Manager) debit(ctx context.Context, cur eventstore.Current[Transfer]) error {
	t, tenant := cur.State, cur.Head.Stream().Tenant
	if t.FromAccountID == t.ToAccountID {
		return m.fail(ctx, cur, ReasonInvalid)
	}
	src, err := m.account(ctx, tenant, t.FromAccountID)
	var evs []account.Event
	if err == nil {
		if src.State.Currency != t.Currency && src.State.Status == account.StatusOpen {
			return m.fail(ctx, cur, ReasonCurrencyMismatch)
		}
		evs, err = decide(src.State,
			account.BeginTransferOut{TransferID: t.ID, Amount: t.Amount},
			account.Withdraw{Amount: t.Amount, Reference: t.Reference, TransferID: t.ID})
	}
	if reason := reasonFor(err); reason != "" {
		return m.fail(ctx, cur, reason)
	}
	if err != nil {
		return err
	}
	return m.commit(ctx, cur, StepDebit, Debited{}, leg{src, evs})
}

// credit pays the destination, ends the transfer out on the source and
// completes the transfer in one commit; if the destination refuses, the
// source is credited back instead and the transfer fails.
func (m *Manager) credit(ctx context.Context, cur eventstore.Current[Transfer]) error {
	t, tenant := cur.State, cur.Head.Stream().Tenant
	src, err := m.account(ctx, tenant, t.FromAccountID)
	if err != nil {
		return fmt.Errorf("source %s of a debited transfer: %w", t.FromAccountID, err)
	}
	end, err := decide(src.State, account.EndTransferOut{TransferID: t.ID})
	if err != nil {
		return fmt.Errorf("end transfer out on %s: %w", t.FromAccountID, err)
	}
	dst, err := m.account(ctx, tenant, t.ToAccountID)
	var pay []account.Event
	if err == nil {
		if dst.State.Currency != t.Currency && dst.State.Status == account.StatusOpen {
			return m.refund(ctx, cur, src, ReasonCurrencyMismatch)
		}
		pay, err = decide(dst.State, account.Deposit{Amount: t.Amount, Reference: t.Reference, TransferID: t.ID})
	}
	if reason := reasonFor(err); reason != "" {
		return m.refund(ctx, cur, src, reason)
	}
	if err != nil {
		return err
	}
	return m.commit(ctx, cur, StepCredit, Completed{}, leg{dst, pay}, leg{src, end})
}

// refund credits the debited amount back to the source and ends the
// transfer failed, in one commit.
func (m *Manager) refund(ctx context.Context, cur eventstore.Current[Transfer], src eventstore.Current[account.Account], reason string) error {
	t := cur.State
	evs, err := decide(src.State,
		account.Deposit{Amount: t.Amount, Reference: t.Reference, TransferID: t.ID},
		account.EndTransferOut{TransferID: t.ID})
	if err != nil {
		// Not expected: the ledger keeps room on the source for every
		// transfer out in flight to come back (decideDeposit). Were it to
		// happen, the step is retried, then dead-lettered, never skipped.
		return fmt.Errorf("refund %d to %s: %w", t.Amount, t.FromAccountID, err)
	}
	return m.commit(ctx, cur, StepRefund, Failed{Reason: reason, Refunded: true}, leg{src, evs})
}

// fail ends a transfer that moved nothing.
func (m *Manager) fail(ctx context.Context, cur eventstore.Current[Transfer], reason string) error {
	return m.commit(ctx, cur, StepFail, Failed{Reason: reason})
}

// leg is one account's part of a step's commit.
type leg struct {
	cur    eventstore.Current[account.Account]
	events []account.Event
}

// commit appends the step's event to the transfer and the accounts' events
// to theirs, each at its observed head, with the step's guard: all or none,
// once.
func (m *Manager) commit(ctx context.Context, cur eventstore.Current[Transfer], step string, progress Event, accounts ...leg) error {
	t := cur.State
	commandID := t.ID + "/" + step
	meta := eventstore.Metadata{
		CommandID: commandID, CorrelationID: t.CorrelationID,
		// The step follows from the transfer's stream at this version.
		CausationID: fmt.Sprintf("%s@%d", cur.Head.Stream().Key(), cur.Head.Version()),
		Actor:       Actor,
	}
	tevs, err := Encode(progress)
	if err != nil {
		return err
	}
	pending := []eventstore.Pending{{Head: cur.Head, Events: tevs, Meta: meta}}
	for _, a := range accounts {
		if len(a.events) == 0 {
			continue
		}
		evs, err := app.Encode(a.events)
		if err != nil {
			return err
		}
		pending = append(pending, eventstore.Pending{Head: a.cur.Head, Events: evs, Meta: meta})
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
	m.log.InfoContext(ctx, "transfer step", "transfer", t.ID, "step", step, "correlationId", t.CorrelationID)
	return nil
}
