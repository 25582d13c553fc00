package app_test

import (
	"log/slog"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// A transfer whose credit would take the destination past the balance
// limit is accepted (its request cannot know the balance when the credit
// comes), then fails with the limit as its reason, and the source gets the
// debited amount back: no money is lost. One that takes it exactly to the
// limit completes.
func TestTransferPastTheBalanceLimitIsRefunded(t *testing.T) {
	store := eventstore.New(eventstore.NewMemoryBackend())
	openAccounts(t, store, "t1", map[string]int64{"a": 1000, "b": account.MaxBalance - 600})
	c := app.NewCommands(store, personal.NewVault(personal.NewMemoryKeys()), 0)
	m := app.NewManager(store, slog.New(slog.DiscardHandler), 0)
	move := func(id string, amount int64) transfer.Transfer {
		t.Helper()
		if _, err := c.RequestTransfer(t.Context(), app.TransferCommand{Tenant: "t1",
			Request: transfer.Request{TransferID: id, FromAccountID: "a", ToAccountID: "b", Amount: amount}}); err != nil {
			t.Fatalf("request %s: %v", id, err)
		}
		s, err := app.TransferStream("t1", id)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := m.Drive(t.Context(), s)
		if err != nil {
			t.Fatalf("drive %s: %v", id, err)
		}
		return tr
	}
	balance := func(id string) account.Account {
		t.Helper()
		s, _ := app.AccountStream("t1", id)
		cur, err := app.NewAccounts(store).Load(t.Context(), s)
		if err != nil {
			t.Fatal(err)
		}
		return cur.State
	}

	if tr := move("tr-over", 601); tr.Status != transfer.StatusFailed || tr.Reason != transfer.ReasonBalanceLimit || !tr.Refunded {
		t.Fatalf("a transfer past the limit: %+v, want failed for %s and refunded", tr, transfer.ReasonBalanceLimit)
	}
	if a, b := balance("a"), balance("b"); a.Balance != 1000 || b.Balance != account.MaxBalance-600 || len(a.TransfersInFlight) != 0 {
		t.Fatalf("after the refused transfer: a %d (in flight %v), b %d; want both as they were", a.Balance, a.TransfersInFlight, b.Balance)
	}
	if tr := move("tr-up-to", 600); tr.Status != transfer.StatusCompleted {
		t.Fatalf("a transfer up to the limit: %+v, want completed", tr)
	}
	if a, b := balance("a"), balance("b"); a.Balance != 400 || b.Balance != account.MaxBalance {
		t.Fatalf("after the transfer up to the limit: a %d, b %d; want 400 and %d", a.Balance, b.Balance, account.MaxBalance)
	}
}
