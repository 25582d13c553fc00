package transfer

import (
	"errors"
	"fmt"

	"annals/internal/ledger/account"
)

// Steps, as the suffixes of their command ids: a step's guard is
// "<transferId>/<step>", so each step applies once whatever the delivery.
const (
	StepDebit  = "debit"
	StepFail   = "fail"
	StepCredit = "credit"
	StepRefund = "refund"
)

// Step is one move of a pending transfer: the event it records on the
// transfer and the events it records on the accounts, committed together
// (all or none) under the step's guard.
type Step struct {
	Name     string
	Progress Event
	// From and To are the source's and the destination's events; either
	// may be empty.
	From, To []account.Event
}

// Next names the step a transfer takes next: the debit until the source
// has paid, then the credit; "" once it has ended (or before it began).
func (t Transfer) Next() string {
	switch {
	case t.Status != StatusPending:
		return ""
	case t.Debited:
		return StepCredit
	}
	return StepDebit
}

// Debit decides the first step from the source account as it stands (the
// zero Account when there is none): take the amount and mark the transfer
// out in flight, so the source cannot close until it settles; or, if the
// ledger refuses, fail the transfer with nothing moved. An error is not a
// refusal: nothing is decided.
func Debit(t Transfer, from account.Account) (Step, error) {
	if t.FromAccountID == t.ToAccountID {
		return failed(ReasonInvalid), nil
	}
	if from.Currency != t.Currency && from.Status == account.StatusOpen {
		return failed(ReasonCurrencyMismatch), nil
	}
	evs, err := decide(from,
		account.BeginTransferOut{TransferID: t.ID, Amount: t.Amount},
		account.Withdraw{Amount: t.Amount, Reference: t.Reference, TransferID: t.ID})
	if reason := reasonFor(err); reason != "" {
		return failed(reason), nil
	}
	if err != nil {
		return Step{}, err
	}
	return Step{Name: StepDebit, Progress: Debited{}, From: evs}, nil
}

// Credit decides the second step of a debited transfer from both accounts
// as they stand: pay the destination and end the transfer out on the
// source; or, if the destination refuses, pay the source back and fail the
// transfer. The source must exist: it paid.
func Credit(t Transfer, from, to account.Account) (Step, error) {
	if from.Status == account.StatusNone {
		return Step{}, fmt.Errorf("source %s of a debited transfer: %w", t.FromAccountID, account.ErrAccountNotFound)
	}
	end, err := decide(from, account.EndTransferOut{TransferID: t.ID})
	if err != nil {
		return Step{}, fmt.Errorf("end transfer out on %s: %w", t.FromAccountID, err)
	}
	if to.Currency != t.Currency && to.Status == account.StatusOpen {
		return refund(t, from, ReasonCurrencyMismatch)
	}
	pay, err := decide(to, account.Deposit{Amount: t.Amount, Reference: t.Reference, TransferID: t.ID})
	if reason := reasonFor(err); reason != "" {
		return refund(t, from, reason)
	}
	if err != nil {
		return Step{}, err
	}
	return Step{Name: StepCredit, Progress: Completed{}, From: end, To: pay}, nil
}

// refund credits the debited amount back to the source and fails the
// transfer.
func refund(t Transfer, from account.Account, reason string) (Step, error) {
	evs, err := decide(from,
		account.Deposit{Amount: t.Amount, Reference: t.Reference, TransferID: t.ID},
		account.EndTransferOut{TransferID: t.ID})
	if err != nil {
		// Not expected: the ledger keeps room on the source for every
		// transfer out in flight to come back (decideDeposit). Were it to
		// happen, the step is retried, then dead-lettered, never skipped.
		return Step{}, fmt.Errorf("refund %d to %s: %w", t.Amount, t.FromAccountID, err)
	}
	return Step{Name: StepRefund, Progress: Failed{Reason: reason, Refunded: true}, From: evs}, nil
}

// failed ends a transfer that moved nothing.
func failed(reason string) Step {
	return Step{Name: StepFail, Progress: Failed{Reason: reason}}
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

// reasonFor names why the ledger refused a step, or "" for an error that is
// not a refusal (and is worth a retry).
func reasonFor(err error) string {
	var ve *account.ValidationError
	switch {
	case errors.Is(err, account.ErrInsufficientFunds):
		return ReasonInsufficientFunds
	case errors.Is(err, account.ErrAccountClosed):
		return ReasonAccountClosed
	case errors.Is(err, account.ErrAccountNotFound):
		return ReasonAccountNotFound
	case errors.Is(err, account.ErrOverflow):
		return ReasonAmountOverflow
	case errors.Is(err, account.ErrBalanceLimit):
		return ReasonBalanceLimit
	case errors.As(err, &ve):
		return ReasonInvalid
	}
	return ""
}
