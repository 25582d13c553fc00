// Package transfer owns transfers between accounts: the transfer's own
// stream (requested, debited, completed or failed), the check of a request
// against both accounts, and the process manager that moves the money in
// guarded multi-stream commits, so that a transfer never loses or creates
// money whatever the delivery, the reordering or the crashes.
package transfer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
)

// Category is the stream category of transfers.
const Category = "transfer"

// StateSchema versions the JSON encoding of Transfer in snapshots.
const StateSchema = 1

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

// Every event is at schema version 1.
const schemaVersion = 1

// ErrMalformedEvent is wrapped when a transfer event's data cannot be read.
var ErrMalformedEvent = errors.New("malformed transfer event data")

// Encode turns transfer events into events to append.
func Encode(events ...Event) ([]eventstore.NewEvent, error) {
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		out[i] = eventstore.NewEvent{Type: e.EventType(), SchemaVersion: schemaVersion, Data: data}
	}
	return out, nil
}

// Decode turns a stored transfer event back into its value. A type this
// package does not know decodes to nil, which Evolve ignores.
func Decode(e eventstore.Event) (Event, error) {
	if e.SchemaVersion != schemaVersion {
		return nil, fmt.Errorf("%s version %d: %s at schema version %d: %w", e.Stream, e.Version, e.Type, e.SchemaVersion, ErrMalformedEvent)
	}
	var (
		ev       Event
		err      error
		required []string
	)
	switch e.Type {
	case TypeRequested:
		required = []string{"transferId", "fromAccountId", "toAccountId", "amount", "currency"}
		ev, err = decodeAs[Requested](e.Data, required)
	case TypeDebited:
		ev, err = decodeAs[Debited](e.Data, nil)
	case TypeCompleted:
		ev, err = decodeAs[Completed](e.Data, nil)
	case TypeFailed:
		ev, err = decodeAs[Failed](e.Data, []string{"reason"})
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s version %d (%s): %w", e.Stream, e.Version, e.Type, err)
	}
	return ev, nil
}

func decodeAs[E Event](data []byte, required []string) (Event, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedEvent)
	}
	for _, f := range required {
		if v, ok := fields[f]; !ok || bytes.Equal(v, []byte("null")) {
			return nil, fmt.Errorf("%w: %s is missing", ErrMalformedEvent, f)
		}
	}
	var e E
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	return e, nil
}

// Stream names the stream of one tenant's transfer.
func Stream(tenant, transferID string) (eventstore.StreamID, error) {
	return eventstore.NewStreamID(tenant, Category, transferID)
}

// Fold rebuilds a transfer from its stored events.
func Fold() eventstore.Fold[Transfer] {
	return eventstore.Fold[Transfer]{
		Name:         Category,
		LogicVersion: FoldLogicVersion,
		StateSchema:  StateSchema,
		Evolve: func(t Transfer, e eventstore.Event) (Transfer, error) {
			ev, err := Decode(e)
			if err != nil {
				return t, err
			}
			t = Evolve(t, ev)
			if _, ok := ev.(Requested); ok {
				t.CorrelationID = e.CorrelationID
			}
			return t, nil
		},
	}
}

// Transfers loads and appends to transfer streams.
type Transfers = eventstore.Aggregate[Transfer]

// NewTransfers binds the transfer fold to a store.
func NewTransfers(store *eventstore.Store) *Transfers {
	return eventstore.NewAggregate(store, Fold())
}
