package views

import (
	"annals/internal/kit/eventstore"
	"annals/internal/ledger/app"
)

// Decode reads an event's data as the views do, for the projector to
// decode each event once for all of them: an account stream's event into
// an account.Event, a transfer stream's into a transfer.Event.
func Decode(e eventstore.Event) (any, error) {
	switch e.Stream.Category {
	case app.AccountCategory:
		return app.Decode(e)
	case app.TransferCategory:
		return app.DecodeTransfer(e)
	}
	return nil, nil
}
