package app_test

import (
	"errors"
	"net/http"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// A command to an archived account is refused with a problem of its own,
// and writes nothing.
func TestArchivedAccountRefusesCommands(t *testing.T) {
	objects := eventstore.NewMemoryObjects("archive")
	store := eventstore.New(eventstore.NewMemoryBackend(), eventstore.WithArchive(objects))
	c := app.NewCommands(store, personal.NewVault(personal.NewMemoryKeys()), 0)
	ctx := t.Context()
	for _, cmd := range []account.Command{account.Open{AccountID: "acc-1", Owner: "Ada", Currency: "EUR"}, account.Close{}} {
		if _, err := c.Execute(ctx, app.AccountCommand{Tenant: "t1", AccountID: "acc-1", Command: cmd}); err != nil {
			t.Fatalf("%T: %v", cmd, err)
		}
	}
	stream := eventstore.StreamID{Tenant: "t1", Category: app.AccountCategory, ID: "acc-1"}
	if _, err := store.Archive(ctx, stream, objects); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []account.Command{account.Deposit{Amount: 5}, account.Close{}} {
		_, err := c.Execute(ctx, app.AccountCommand{Tenant: "t1", AccountID: "acc-1", Command: cmd})
		if !errors.Is(err, account.ErrAccountArchived) {
			t.Errorf("%T on an archived account: %v; want ErrAccountArchived", cmd, err)
		}
		if p := httpapi.ProblemFor(err); p.Status != http.StatusGone || p.Kind != "account-archived" {
			t.Errorf("%T on an archived account answers %d %s; want 410 account-archived", cmd, p.Status, p.Kind)
		}
	}
	if p, err := store.Read(ctx, stream, 1, 10); err != nil || len(p.Events) != 2 {
		t.Errorf("the archived account reads %d events, %v; want its 2", len(p.Events), err)
	}
}
