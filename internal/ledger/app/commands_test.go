package app_test

import (
	"errors"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// Commands called without the HTTP layer's checks still refuse what no
// account or transfer can be made of, with a field error, and never panic.
func TestCommandsRefuseWhatCannotBeRecorded(t *testing.T) {
	store := eventstore.New(eventstore.NewMemoryBackend())
	c := app.NewCommands(store, personal.NewVault(personal.NewMemoryKeys()), 0)
	invalid := func(err error, field string) bool {
		var ve *account.ValidationError
		return errors.As(err, &ve) && len(ve.Fields) == 1 && ve.Fields[0].Field == field
	}

	_, err := c.Execute(t.Context(), app.AccountCommand{Tenant: "t1", AccountID: "acc-1",
		Command: account.Open{AccountID: "acc-2", Owner: "Ada", Currency: "EUR"}})
	if !invalid(err, "accountId") {
		t.Errorf("an open of acc-2 in acc-1's stream: %v, want an invalid accountId", err)
	}
	if _, err := store.Read(t.Context(), eventstore.StreamID{Tenant: "t1", Category: app.AccountCategory, ID: "acc-1"}, 1, 10); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("acc-1's stream after the refusal: %v, want none", err)
	}

	// A guard without an outcome to keep: the command runs once.
	once := &app.Once[app.AccountResult]{CommandID: "cmd-1"}
	open := app.AccountCommand{Tenant: "t1", AccountID: "acc-1", Command: account.Open{AccountID: "acc-1", Owner: "Ada", Currency: "EUR"}, Once: once}
	if _, err := c.Execute(t.Context(), open); err != nil {
		t.Fatalf("open with a guard and no outcome: %v", err)
	}

	_, err = c.RequestTransfer(t.Context(), app.TransferCommand{Tenant: "t1",
		Request: transfer.Request{TransferID: "a#b", FromAccountID: "acc-1", ToAccountID: "acc-2", Amount: 1}})
	if !invalid(err, "transferId") {
		t.Errorf("a transfer id no stream can have: %v, want an invalid transferId", err)
	}
}
