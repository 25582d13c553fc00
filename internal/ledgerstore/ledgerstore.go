// Package ledgerstore binds the ledger domain to the event store: how
// account streams are named, how ledger events are stored, and the fold that
// rebuilds an account from them.
package ledgerstore

import (
	"fmt"

	"annals/internal/eventstore"
	"annals/internal/ledger"
)

// AccountCategory is the stream category of accounts.
const AccountCategory = "account"

// StateSchema versions the JSON encoding of ledger.Account in snapshots.
const StateSchema = 1

// AccountStream names the stream of one tenant's account.
func AccountStream(tenant, accountID string) (eventstore.StreamID, error) {
	return eventstore.NewStreamID(tenant, AccountCategory, accountID)
}

// AccountFold rebuilds an account from its stored events.
func AccountFold() eventstore.Fold[ledger.Account] {
	return eventstore.Fold[ledger.Account]{
		Name:         AccountCategory,
		LogicVersion: ledger.FoldLogicVersion,
		StateSchema:  StateSchema,
		Evolve: func(a ledger.Account, e eventstore.Event) (ledger.Account, error) {
			ev, err := Decode(e)
			if err != nil {
				return a, err
			}
			return ledger.Evolve(a, ev), nil
		},
	}
}

// Accounts loads and appends to account streams.
type Accounts = eventstore.Aggregate[ledger.Account]

// NewAccounts binds the account fold to a store.
func NewAccounts(store *eventstore.Store) *Accounts {
	return eventstore.NewAggregate(store, AccountFold())
}

// Encode turns ledger events into events to append.
func Encode(events []ledger.Event) ([]eventstore.NewEvent, error) {
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		typ, sv, data, err := ledger.EncodeEvent(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		out[i] = eventstore.NewEvent{Type: typ, SchemaVersion: sv, Data: data}
	}
	return out, nil
}

// Decode turns a stored event back into a ledger event, upcasting old
// schema versions.
func Decode(e eventstore.Event) (ledger.Event, error) {
	ev, err := ledger.DecodeEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return nil, fmt.Errorf("%s version %d: %w", e.Stream, e.Version, err)
	}
	return ev, nil
}
