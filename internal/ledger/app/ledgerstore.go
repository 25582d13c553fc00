// Package app is the ledger's application layer: it binds the domains to
// the event store (how account streams are named, how ledger events are
// stored, the fold that rebuilds an account from them).
package app

import (
	"context"
	"errors"
	"fmt"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/transfer"
)

// AccountCategory is the stream category of accounts.
const AccountCategory = "account"

// StateSchema versions the JSON encoding of account.Account in snapshots.
const StateSchema = 1

// AccountStream names the stream of one tenant's account.
func AccountStream(tenant, accountID string) (eventstore.StreamID, error) {
	return eventstore.NewStreamID(tenant, AccountCategory, accountID)
}

// AccountFold rebuilds an account from its stored events.
func AccountFold() eventstore.Fold[account.Account] {
	return eventstore.Fold[account.Account]{
		Name:         AccountCategory,
		LogicVersion: account.FoldLogicVersion,
		StateSchema:  StateSchema,
		Evolve: func(a account.Account, e eventstore.Event) (account.Account, error) {
			ev, err := Decode(e)
			if err != nil {
				return a, err
			}
			return account.Evolve(a, ev), nil
		},
	}
}

// Accounts loads and appends to account streams.
type Accounts = eventstore.Aggregate[account.Account]

// NewAccounts binds the account fold to a store.
func NewAccounts(store *eventstore.Store) *Accounts {
	return eventstore.NewAggregate(store, AccountFold())
}

// Encode turns ledger events into events to append.
func Encode(events []account.Event) ([]eventstore.NewEvent, error) {
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		typ, sv, data, err := account.EncodeEvent(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		out[i] = eventstore.NewEvent{Type: typ, SchemaVersion: sv, Data: data}
	}
	return out, nil
}

// Schemas is the ledger's catalogue of event types: each type's current
// schema version and the lifts from the older ones. The store of every
// function reads through it (wiring/eventsdb), and so do Decode and
// DecodeTransfer, so that the audit trail, folds, views, rebuilds and the
// process manager all see events in their current shape, and all refuse
// a version newer than this code (eventstore.SchemaTooNewError).
var Schemas = eventstore.MustSchemas(schemaTypes()...)

func schemaTypes() []eventstore.EventType {
	var types []eventstore.EventType
	for typ, v := range account.SchemaVersions() {
		t := eventstore.EventType{Name: typ, Current: v}
		for _, l := range account.Lifts[typ] {
			t.Lifts = append(t.Lifts, l)
		}
		types = append(types, t)
	}
	for _, typ := range transfer.Types {
		types = append(types, eventstore.EventType{
			Name: typ, Current: transfer.SchemaVersion, Lifts: []eventstore.Lift{account.Unsealed},
		})
	}
	return types
}

// Decode turns a stored event back into a ledger event, lifting an old
// schema version to the current one first (Schemas).
func Decode(e eventstore.Event) (account.Event, error) {
	e, err := Schemas.Upcast(e)
	if err != nil {
		return nil, fmt.Errorf("%s version %d: %w", e.Stream, e.Version, err)
	}
	ev, err := account.DecodeEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return nil, fmt.Errorf("%s version %d: %w", e.Stream, e.Version, err)
	}
	return ev, nil
}

// AccountError says in the ledger's words what the store reports of an
// account stream: no such stream is no such account, no such version of it
// is no such version of the account, an archived stream an archived
// account. Other errors are returned as they are.
func AccountError(err error) error {
	switch {
	case errors.Is(err, eventstore.ErrArchived):
		return fmt.Errorf("%w: %w", account.ErrAccountArchived, err)
	case errors.Is(err, eventstore.ErrVersionNotFound):
		return fmt.Errorf("%w: %w", account.ErrVersionNotFound, err)
	case errors.Is(err, eventstore.ErrNotFound):
		return fmt.Errorf("%w: %w", account.ErrAccountNotFound, err)
	}
	return err
}

// Opened returns the event with its personal members opened for showing
// (personal.Vault.OpenJSON): in the clear, or personal.ErasedText once
// their data subject is erased.
func Opened(ctx context.Context, vault *personal.Vault, e eventstore.Event) (eventstore.Event, error) {
	data, err := vault.OpenJSON(ctx, e.Stream.Tenant, e.Data)
	if err != nil {
		return e, fmt.Errorf("%s version %d: %w", e.Stream, e.Version, err)
	}
	e.Data = data
	return e, nil
}
