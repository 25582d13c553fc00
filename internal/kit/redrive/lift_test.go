package redrive_test

import (
	"log/slog"
	"strings"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/redrive"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
	"annals/internal/ledger/views"
)

// A lift goes to the views that keep the stream's kind of stream: a
// transfer quarantined in the transfer view heals there, the account views
// are not asked, and a lift no view given can take is an error.
func TestLiftGoesToTheViewsThatHoldTheStream(t *testing.T) {
	ctx := t.Context()
	quiet := slog.New(slog.DiscardHandler)
	store := eventstore.New(eventstore.NewMemoryBackend())
	dead := projection.NewDeadLetters(&projection.LetterBox{})
	transfers := views.NewTransfers(views.NewMemoryTransfers(), store, dead, quiet)
	accounts := views.NewAccounts(views.NewMemoryAccounts(), store, dead, quiet)

	s, err := app.TransferStream("t1", "tr1")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := app.EncodeTransfer(transfer.Requested{TransferID: "tr1", FromAccountID: "a", ToAccountID: "b", Amount: 5, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, eventstore.NewStream(s), evs, eventstore.Metadata{CommandID: "c1"}, nil); err != nil {
		t.Fatal(err)
	}
	// Its record arrived unreadable: the stream is quarantined before
	// version 1.
	if err := transfers.Quarantine(ctx, s, "envelope does not decode"); err != nil {
		t.Fatal(err)
	}
	if pos, _ := transfers.Status(ctx, s); pos.Quarantine == nil {
		t.Fatalf("not quarantined: %+v", pos)
	}

	lifted, err := redrive.Lift(ctx, s, accounts, transfers)
	if err != nil || len(lifted) != 1 || lifted[0].View != views.TransfersView || !lifted[0].Healed() || lifted[0].Position.Version != 1 {
		t.Errorf("lift = %+v, %v; want the transfer view alone, healed at version 1", lifted, err)
	}
	if _, err := redrive.Lift(ctx, s, accounts); err == nil || !strings.Contains(err.Error(), `"transfer" streams`) {
		t.Errorf("lift of a transfer in the account view only: %v, want an error naming the kind of stream", err)
	}
}
