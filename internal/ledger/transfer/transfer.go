// Package transfer is the domain of transfers between accounts: a
// transfer's events (requested, debited, completed or failed) and the
// state they fold into, the check of a request against both accounts, and
// the steps that move the money, decided from the transfer and the
// accounts as they stand. It knows no store and no transport: the
// application (internal/ledger/app) loads, runs a step and commits it.
package transfer

import (
	"annals/internal/ledger/account"
)

// FoldLogicVersion identifies what Evolve computes; bump it when Evolve
// would compute another state from the same events.
const FoldLogicVersion = 1

// Status is where a transfer is in its life.
type Status string

const (
	StatusNone      Status = "" // not requested yet
	StatusPending   Status = "pending"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
)

// Reasons a transfer fails, stable like the HTTP API's problem types (the
// same words where the cause is the same).
const (
	ReasonInsufficientFunds = "insufficient-funds"
	ReasonAccountClosed     = "account-closed"
	ReasonAccountNotFound   = "account-not-found"
	ReasonCurrencyMismatch  = "currency-mismatch"
	ReasonAmountOverflow    = "amount-overflow"
	ReasonBalanceLimit      = "balance-limit"
	ReasonInvalid           = "invalid"
)

// Transfer is the state a transfer's events fold into.
type Transfer struct {
	ID            string           `json:"transferId"`
	FromAccountID string           `json:"fromAccountId"`
	ToAccountID   string           `json:"toAccountId"`
	Amount        int64            `json:"amount"`
	Currency      account.Currency `json:"currency"`
	Reference     string           `json:"reference,omitempty"`
	Status        Status           `json:"status"`
	// Debited is true once the source account has paid the amount out.
	Debited bool `json:"debited,omitempty"`
	// Reason says why a failed transfer failed.
	Reason string `json:"reason,omitempty"`
	// Refunded is true when a failed transfer had debited the source and
	// credited the amount back.
	Refunded bool `json:"refunded,omitempty"`
	// CorrelationID is the request's, carried by every step so that one
	// transfer can be followed across the three streams it touches.
	CorrelationID string `json:"correlationId,omitempty"`
}

// Event is one recorded fact about a transfer.
type Event interface{ EventType() string }

// Stable event type names.
const (
	TypeRequested = "TransferRequested"
	TypeDebited   = "TransferDebited"
	TypeCompleted = "TransferCompleted"
	TypeFailed    = "TransferFailed"
)

// Requested starts a transfer's stream: what was asked, checked against
// both accounts when it was asked.
type Requested struct {
	TransferID    string           `json:"transferId"`
	FromAccountID string           `json:"fromAccountId"`
	ToAccountID   string           `json:"toAccountId"`
	Amount        int64            `json:"amount"`
	Currency      account.Currency `json:"currency"`
	Reference     string           `json:"reference,omitempty"`
}

// Debited records that the source account paid the amount out, in the
// same commit as the source's withdrawal.
type Debited struct{}

// Completed records that the destination was credited, in the same commit
// as the destination's deposit.
type Completed struct{}

// Failed ends a transfer that could not complete. Refunded says whether the
// source had been debited and was credited back (in the same commit).
type Failed struct {
	Reason   string `json:"reason"`
	Refunded bool   `json:"refunded"`
}

func (Requested) EventType() string { return TypeRequested }
func (Debited) EventType() string   { return TypeDebited }
func (Completed) EventType() string { return TypeCompleted }
func (Failed) EventType() string    { return TypeFailed }

// Evolve returns the state after e; like the ledger's, it trusts recorded
// history and ignores what it does not know.
func Evolve(t Transfer, e Event) Transfer {
	switch e := e.(type) {
	case Requested:
		return Transfer{
			ID: e.TransferID, FromAccountID: e.FromAccountID, ToAccountID: e.ToAccountID,
			Amount: e.Amount, Currency: e.Currency, Reference: e.Reference, Status: StatusPending,
		}
	case Debited:
		t.Debited = true
	case Completed:
		t.Status = StatusCompleted
	case Failed:
		t.Status, t.Reason, t.Refunded = StatusFailed, e.Reason, e.Refunded
	}
	return t
}

// Terminal reports whether the transfer has ended, either way.
func (t Transfer) Terminal() bool {
	return t.Status == StatusCompleted || t.Status == StatusFailed
}
