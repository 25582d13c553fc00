package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/transfer"
)

// Commands runs the ledger's commands on the event store: load, decide,
// append. It knows nothing of how a command arrived; the HTTP routes, the
// CLI and the tests call it alike.
type Commands struct {
	store    *eventstore.Store
	vault    *personal.Vault
	accounts *Accounts
	budget   time.Duration
}

// NewCommands returns the commands over a store. A command without a
// pinned version that loses the race for its account's head is decided
// again on the state the winner left for up to budget
// (eventstore.DefaultConflictBudget when zero): racing commands on one
// account serialize instead of failing. The vault seals the personal
// fields of what the commands record with the keys of the accounts' data
// subjects.
func NewCommands(store *eventstore.Store, vault *personal.Vault, budget time.Duration) *Commands {
	if vault == nil {
		panic("app: commands without a vault would store personal data in the clear")
	}
	return &Commands{store: store, vault: vault, accounts: NewAccounts(store), budget: budget}
}

// sealer seals values for the data subject of an account in a tenant.
func (c *Commands) sealer(ctx context.Context, tenant, subject string) func(string) (string, error) {
	s := personal.Subject{Tenant: tenant, ID: subject}
	return func(v string) (string, error) {
		sealed, err := c.vault.Seal(ctx, s, v)
		if errors.Is(err, personal.ErrErased) {
			return "", fmt.Errorf("%w: %s", account.ErrSubjectErased, subject)
		}
		return sealed, err
	}
}

// SubjectOf is the data subject of an account's personal data: the one its
// opening named, the account itself for one opened before subjects were.
func SubjectOf(a account.Account) string {
	if a.DataSubject != "" {
		return a.DataSubject
	}
	return a.ID
}

// OwnerField is the field lookups of accounts by owner register under
// (personal.Keys.Register).
const OwnerField = "owner"

// seal returns the events with their personal fields sealed for the
// account's data subject. An opening registers its owner for lookups
// first, so that an account the views show can be found by its owner.
func (c *Commands) seal(ctx context.Context, tenant string, state account.Account, decided []account.Event) ([]account.Event, error) {
	out := make([]account.Event, len(decided))
	for i, e := range decided {
		subject := SubjectOf(state)
		if o, ok := e.(account.AccountOpened); ok {
			subject = o.DataSubject
			s := personal.Subject{Tenant: tenant, ID: subject}
			// The key first: a subject is registered only with one.
			_, err := c.vault.Keys().Key(ctx, s, true)
			if err == nil {
				err = c.vault.Keys().Register(ctx, s, OwnerField, o.Owner)
			}
			if errors.Is(err, personal.ErrErased) {
				return nil, fmt.Errorf("%w: %s", account.ErrSubjectErased, subject)
			}
			if err != nil {
				return nil, fmt.Errorf("register the owner of %s: %w", o.AccountID, err)
			}
			if o.OwnerIndex, err = c.vault.BlindIndex(ctx, s, OwnerField, o.Owner); err != nil {
				return nil, fmt.Errorf("index the owner of %s: %w", o.AccountID, err)
			}
			e = o
		}
		sealed, err := account.SealPersonal(e, c.sealer(ctx, tenant, subject))
		if err != nil {
			return nil, err
		}
		out[i] = sealed
	}
	return out, nil
}

// Once makes a command apply at most once: its guard is written in the
// command's commit with the outcome that a repeat is given back, as an
// *eventstore.AlreadyAppliedError, instead of running it again.
type Once[R any] struct {
	CommandID string
	// Fingerprint and ExpiresAt are the guard's (see eventstore.Guard): a
	// request's Idempotency-Key has both, a process manager's step neither.
	Fingerprint string
	ExpiresAt   time.Time
	// Outcome is what is kept for a repeat, made from the result the
	// commit records; nil keeps none (a repeat is then told only that the
	// command ran).
	Outcome func(R) ([]byte, error)
}

func (o *Once[R]) guard(tenant string, r R) (*eventstore.Guard, error) {
	if o == nil {
		return nil, nil
	}
	var outcome []byte
	if o.Outcome != nil {
		var err error
		if outcome, err = o.Outcome(r); err != nil {
			return nil, fmt.Errorf("the outcome to keep: %w", err)
		}
	}
	return &eventstore.Guard{Tenant: tenant, CommandID: o.CommandID, Outcome: outcome, Fingerprint: o.Fingerprint, ExpiresAt: o.ExpiresAt}, nil
}

// AccountCommand is a command on one account and how to run it.
type AccountCommand struct {
	Tenant    string
	AccountID string
	Command   account.Command
	// IfMatch, when set, is what the account's version must be.
	IfMatch *IfMatch
	Meta    eventstore.Metadata
	Once    *Once[AccountResult]
}

// AccountResult is the account as the command left it.
type AccountResult struct {
	AccountID string
	Account   account.Account
	Version   int64
	// Recorded is how many events the command appended: 0 for one that
	// found nothing to change.
	Recorded int
}

// IfMatch is a condition on an account's version before a command, as
// HTTP's If-Match states it. With Any, the account must exist, at any
// version, and the command is not pinned: a lost race is decided again, as
// without a condition. Otherwise the account must be at one of Versions
// (none matches when it is empty) and the command is pinned to it: a lost
// race is refused, since the account is no longer at that version.
type IfMatch struct {
	Any      bool
	Versions []int64
}

// PreconditionError is a command refused because its account did not meet
// its IfMatch: it was at Version when read, it moved from Version while
// the command ran (Changed), or it does not exist (Missing).
type PreconditionError struct {
	Version int64
	Changed bool
	Missing bool
}

func (e *PreconditionError) Error() string {
	switch {
	case e.Missing:
		return "the account does not exist"
	case e.Changed:
		return fmt.Sprintf("the account changed from version %d while the command ran", e.Version)
	}
	return fmt.Sprintf("the account is at version %d", e.Version)
}

// Execute runs a command on an account. It returns the account after it,
// or the refusal: a domain refusal (account.Refusal, an invalid field), a
// *PreconditionError, account.ErrAccountNotFound for an id no account can
// have, account.ErrAccountExists for an Open that lost to another, the
// *eventstore.AlreadyAppliedError of a repeat under Once, or the store's
// error.
func (c *Commands) Execute(ctx context.Context, cmd AccountCommand) (AccountResult, error) {
	stream, err := AccountStream(cmd.Tenant, cmd.AccountID)
	if err != nil {
		return AccountResult{}, fmt.Errorf("%w: %w", account.ErrAccountNotFound, err)
	}
	if o, ok := cmd.Command.(account.Open); ok && o.AccountID != cmd.AccountID {
		// The stream's name and the account's id must be one.
		return AccountResult{}, &account.ValidationError{Fields: []account.FieldError{{
			Field: "accountId", Message: "must be the id of the account the command is for (" + cmd.AccountID + ")"}}}
	}
	var res AccountResult
	err = eventstore.RetryConflicts(ctx, c.budget, func(int) error {
		res, err = c.attempt(ctx, stream, cmd)
		return err
	})
	return res, err
}

// attempt decides and appends once; a lost race that is worth deciding
// again is returned as the conflict. A command on an account this instance
// has seen is decided on the state it last saw (eventstore's Decide), which
// is only ever the expected head of the write: a stale one costs a retry.
func (c *Commands) attempt(ctx context.Context, stream eventstore.StreamID, cmd AccountCommand) (AccountResult, error) {
	_, opening := cmd.Command.(account.Open)
	pinned := cmd.IfMatch != nil && !cmd.IfMatch.Any
	var (
		res AccountResult
		at  int64 // the version decided on
	)
	decide := func(cur eventstore.Current[account.Account]) (eventstore.Decision, error) {
		at = cur.Head.Version()
		if pinned && !slices.Contains(cmd.IfMatch.Versions, cur.Head.Version()) {
			return eventstore.Decision{}, &PreconditionError{Version: cur.Head.Version()}
		}
		decided, err := account.Decide(cur.State, cmd.Command)
		if err != nil {
			return eventstore.Decision{}, err
		}
		if decided, err = c.seal(ctx, cmd.Tenant, cur.State, decided); err != nil {
			return eventstore.Decision{}, err
		}
		res = AccountResult{AccountID: cmd.AccountID, Account: cur.State, Version: cur.Head.Version() + int64(len(decided)), Recorded: len(decided)}
		for _, e := range decided {
			res.Account = account.Evolve(res.Account, e)
		}
		if len(decided) == 0 {
			return eventstore.Decision{}, nil
		}
		evs, err := Encode(decided)
		if err != nil {
			return eventstore.Decision{}, err
		}
		guard, err := cmd.Once.guard(cmd.Tenant, res)
		if err != nil {
			return eventstore.Decision{}, err
		}
		return eventstore.Decision{Events: evs, Meta: cmd.Meta, Guard: guard}, nil
	}
	var err error
	if opening {
		// A new stream: nothing to load.
		cur := eventstore.Current[account.Account]{Head: eventstore.NewStream(stream)}
		var d eventstore.Decision
		if d, err = decide(cur); err == nil && len(d.Events) > 0 {
			_, _, err = c.accounts.Append(ctx, cur, d.Events, d.Meta, d.Guard)
		}
	} else {
		_, _, err = c.accounts.Decide(ctx, stream, decide)
	}
	switch {
	case err == nil:
		return res, nil
	case cmd.IfMatch != nil && cmd.IfMatch.Any && errors.Is(err, eventstore.ErrNotFound):
		return AccountResult{}, &PreconditionError{Missing: true}
	case !errors.Is(err, eventstore.ErrConflict):
		return AccountResult{}, AccountError(err)
	case pinned:
		return AccountResult{}, &PreconditionError{Version: at, Changed: true}
	case opening:
		return AccountResult{}, account.ErrAccountExists
	}
	return AccountResult{}, err
}

// TransferCommand asks for a transfer.
type TransferCommand struct {
	Tenant  string
	Request transfer.Request
	Meta    eventstore.Metadata
	Once    *Once[transfer.Requested]
}

// RequestTransfer checks a request against both accounts as they are now
// and records it as a new transfer stream. It moves no money: the process
// manager does, in guarded steps. It returns what was recorded, or the
// refusal (transfer.Validate's, a *transfer.AccountError), the
// *eventstore.AlreadyAppliedError of a repeat under Once, or the store's
// error.
func (c *Commands) RequestTransfer(ctx context.Context, cmd TransferCommand) (transfer.Requested, error) {
	r := cmd.Request
	if err := transfer.Validate(r); err != nil {
		return transfer.Requested{}, err
	}
	stream, err := TransferStream(cmd.Tenant, r.TransferID)
	if err != nil {
		// No stream can have this id or tenant: a request no transfer
		// can be made of.
		return transfer.Requested{}, &account.ValidationError{Fields: []account.FieldError{{Field: "transferId", Message: err.Error()}}}
	}
	var accounts [2]account.Account
	for i, id := range []string{r.FromAccountID, r.ToAccountID} {
		s, err := AccountStream(cmd.Tenant, id)
		if err != nil {
			// No account can have this id: Decide refuses it as missing.
			continue
		}
		cur, err := c.accounts.Load(ctx, s)
		if err != nil && !errors.Is(err, eventstore.ErrNotFound) {
			return transfer.Requested{}, err
		}
		accounts[i] = cur.State
	}
	requested, err := transfer.Decide(accounts[0], accounts[1], r)
	if err != nil {
		return transfer.Requested{}, err
	}
	// The reference is the source account's data subject's: its legs
	// carry it, sealed, to both accounts.
	if requested.Reference, err = c.sealer(ctx, cmd.Tenant, SubjectOf(accounts[0]))(requested.Reference); err != nil {
		return transfer.Requested{}, err
	}
	evs, err := EncodeTransfer(requested)
	if err != nil {
		return transfer.Requested{}, err
	}
	guard, err := cmd.Once.guard(cmd.Tenant, requested)
	if err != nil {
		return transfer.Requested{}, err
	}
	if _, err := c.store.Append(ctx, eventstore.NewStream(stream), evs, cmd.Meta, guard); err != nil {
		return transfer.Requested{}, err
	}
	return requested, nil
}
