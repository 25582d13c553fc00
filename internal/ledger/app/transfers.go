package app

import (
	"fmt"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/transfer"
)

// TransferCategory is the stream category of transfers.
const TransferCategory = "transfer"

// TransferStateSchema versions the JSON encoding of transfer.Transfer in
// snapshots.
const TransferStateSchema = 1

// TransferStream names the stream of one tenant's transfer.
func TransferStream(tenant, transferID string) (eventstore.StreamID, error) {
	return eventstore.NewStreamID(tenant, TransferCategory, transferID)
}

// TransferFold rebuilds a transfer from its stored events; the request's
// correlation id is the transfer's, carried by every step.
func TransferFold() eventstore.Fold[transfer.Transfer] {
	return eventstore.Fold[transfer.Transfer]{
		Name:         TransferCategory,
		LogicVersion: transfer.FoldLogicVersion,
		StateSchema:  TransferStateSchema,
		Evolve: func(t transfer.Transfer, e eventstore.Event) (transfer.Transfer, error) {
			ev, err := DecodeTransfer(e)
			if err != nil {
				return t, err
			}
			return EvolveTransfer(t, e, ev), nil
		},
	}
}

// EvolveTransfer is TransferFold's step over e, already decoded into ev.
func EvolveTransfer(t transfer.Transfer, e eventstore.Event, ev transfer.Event) transfer.Transfer {
	t = transfer.Evolve(t, ev)
	if _, ok := ev.(transfer.Requested); ok {
		t.CorrelationID = e.CorrelationID
	}
	return t
}

// Transfers loads and appends to transfer streams.
type Transfers = eventstore.Aggregate[transfer.Transfer]

// NewTransfers binds the transfer fold to a store.
func NewTransfers(store *eventstore.Store) *Transfers {
	return eventstore.NewAggregate(store, TransferFold())
}

// EncodeTransfer turns transfer events into events to append.
func EncodeTransfer(events ...transfer.Event) ([]eventstore.NewEvent, error) {
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		typ, sv, data, err := transfer.EncodeEvent(e)
		if err != nil {
			return nil, err
		}
		out[i] = eventstore.NewEvent{Type: typ, SchemaVersion: sv, Data: data}
	}
	return out, nil
}

// DecodeTransfer turns a stored transfer event back into its value; a type
// the domain does not know is nil, which transfer.Evolve ignores.
func DecodeTransfer(e eventstore.Event) (transfer.Event, error) {
	e, err := Schemas.Upcast(e)
	if err != nil {
		return nil, fmt.Errorf("%s version %d: %w", e.Stream, e.Version, err)
	}
	ev, err := transfer.DecodeEvent(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		return nil, fmt.Errorf("%s version %d: %w", e.Stream, e.Version, err)
	}
	return ev, nil
}
