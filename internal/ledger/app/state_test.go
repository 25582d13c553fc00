package app_test

import (
	"errors"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/testclock"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// A ledger stream folds with its own aggregate, at the head, at a version
// or as of a time; a category the ledger does not keep is ErrNoFold.
func TestStateOf(t *testing.T) {
	clock := testclock.New(testclock.Start, time.Minute)
	store := eventstore.New(eventstore.NewMemoryBackend(), eventstore.WithClock(clock.Now))
	openAccounts(t, store, "t1", map[string]int64{"a": 100})
	a, _ := app.AccountStream("t1", "a")
	cur, err := app.NewAccounts(store).Load(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	dep, _ := app.Encode([]account.Event{account.MoneyDeposited{Amount: 50, BalanceAfter: 150}})
	if _, _, err := app.NewAccounts(store).Append(t.Context(), cur, dep, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	// Opened and 100 in one commit (version 2), then 50 more (version 3).
	for _, c := range []struct {
		name    string
		version int64
		at      time.Time
		want    int64 // balance
		at2     int64 // version reached
	}{
		{"head", 0, time.Time{}, 150, 3},
		{"at version 2", 2, time.Time{}, 100, 2},
		{"as of the first commit", 0, cur.Head.RecordedAt(), 100, 2},
	} {
		s, err := app.StateOf(t.Context(), store, a, c.version, c.at)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		acc, ok := s.Value.(account.Account)
		if !ok || acc.Balance != c.want || s.Version != c.at2 || s.RecordedAt.IsZero() {
			t.Errorf("%s: %+v, want balance %d at version %d", c.name, s, c.want, c.at2)
		}
	}
	if _, err := app.StateOf(t.Context(), store, a, 9, time.Time{}); !errors.Is(err, eventstore.ErrVersionNotFound) {
		t.Errorf("beyond the head: %v", err)
	}

	tr, _ := app.TransferStream("t1", "tr-1")
	req, _ := app.EncodeTransfer(transfer.Requested{TransferID: "tr-1", FromAccountID: "a", ToAccountID: "b", Amount: 5, Currency: "EUR"})
	if _, err := store.Append(t.Context(), eventstore.NewStream(tr), req, eventstore.Metadata{CorrelationID: "corr-1"}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := app.StateOf(t.Context(), store, tr, 0, time.Time{})
	if got, ok := s.Value.(transfer.Transfer); err != nil || !ok || got.Status != transfer.StatusPending || got.CorrelationID != "corr-1" {
		t.Errorf("transfer: %+v, %v", s, err)
	}

	other, _ := eventstore.NewStreamID("t1", "invoice", "i1")
	if _, err := app.StateOf(t.Context(), store, other, 0, time.Time{}); !errors.Is(err, app.ErrNoFold) {
		t.Errorf("an invoice: %v, want ErrNoFold", err)
	}
}
