package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// A step's guard that the transfer's stream does not reflect (a restored
// or damaged table) stops Drive with an error that says so, instead of
// reloading and retrying the same step forever.
func TestDriveStopsOnAGuardTheStreamDoesNotReflect(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	store := eventstore.New(eventstore.NewMemoryBackend())
	openAccounts(t, store, "t1", map[string]int64{"a": 100, "b": 100})
	tr, err := app.TransferStream("t1", "tr1")
	if err != nil {
		t.Fatal(err)
	}
	req, err := app.EncodeTransfer(transfer.Requested{TransferID: "tr1", FromAccountID: "a", ToAccountID: "b", Amount: 10, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, eventstore.NewStream(tr), req, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	// The debit's guard exists, written with a commit elsewhere.
	other, err := eventstore.NewStreamID("t1", "note", "n1")
	if err != nil {
		t.Fatal(err)
	}
	note := []eventstore.NewEvent{{Type: "Noted", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}
	if _, err := store.Append(ctx, eventstore.NewStream(other), note, eventstore.Metadata{}, &eventstore.Guard{Tenant: "t1", CommandID: "tr1/debit"}); err != nil {
		t.Fatal(err)
	}

	m := app.NewManager(store, slog.New(slog.DiscardHandler), 0)
	_, err = m.Drive(ctx, tr)
	if err == nil || ctx.Err() != nil || !errors.Is(err, eventstore.ErrAlreadyApplied) || !strings.Contains(err.Error(), "stays at version 1") {
		t.Errorf("Drive = %v (context %v), want a prompt error naming the stuck version", err, ctx.Err())
	}
}

// openAccounts opens, in tenant, an EUR account per id holding its amount.
func openAccounts(t *testing.T, store *eventstore.Store, tenant string, balances map[string]int64) {
	t.Helper()
	accounts := app.NewAccounts(store)
	for id, amount := range balances {
		s, err := app.AccountStream(tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		evs := []account.Event{account.AccountOpened{AccountID: id, Owner: "o", Currency: "EUR"}}
		if amount > 0 {
			evs = append(evs, account.MoneyDeposited{Amount: amount, BalanceAfter: amount})
		}
		enc, err := app.Encode(evs)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := accounts.Append(t.Context(), eventstore.Current[account.Account]{Head: eventstore.NewStream(s)}, enc, eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
	}
}
