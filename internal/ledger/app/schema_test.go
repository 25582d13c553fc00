package app_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// The process manager reads accounts through the catalogue too: a source
// account holding an event newer than the code stops the transfer's step
// with the SchemaTooNewError (to be retried once the newer code runs), and
// no leg is written on a balance guessed at.
func TestManagerRefusesEventsFromANewerDeployment(t *testing.T) {
	store := eventstore.New(eventstore.NewMemoryBackend())
	openAccounts(t, store, "t1", map[string]int64{"a": 1000, "b": 0})
	if _, err := app.NewCommands(store, personal.NewVault(personal.NewMemoryKeys()), 0).RequestTransfer(t.Context(), app.TransferCommand{Tenant: "t1",
		Request: transfer.Request{TransferID: "tr-1", FromAccountID: "a", ToAccountID: "b", Amount: 100}}); err != nil {
		t.Fatal(err)
	}
	a, _ := app.AccountStream("t1", "a")
	cur, err := app.NewAccounts(store).Load(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	current, _ := app.Schemas.Current(account.TypeMoneyWithdrawn)
	ahead := []eventstore.NewEvent{{Type: account.TypeMoneyWithdrawn, SchemaVersion: current + 1,
		Data: json.RawMessage(`{"amount":950,"channel":"card","balanceAfter":50,"fx":{"rate":"1.1"}}`)}}
	if _, err := store.Append(t.Context(), cur.Head, ahead, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	tr, _ := app.TransferStream("t1", "tr-1")
	if got, err := app.NewManager(store, slog.New(slog.DiscardHandler), 0).Drive(t.Context(), tr); !errors.Is(err, eventstore.ErrSchemaTooNew) {
		t.Fatalf("drive: %+v, %v; want ErrSchemaTooNew", got, err)
	}
	commits, err := store.ReadCommits(t.Context(), a, 1, 100)
	if err != nil || len(commits) != 2 {
		t.Errorf("the source holds %d commits (%v), want its 2: no debit", len(commits), err)
	}
}
