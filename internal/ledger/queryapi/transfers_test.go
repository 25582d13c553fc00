package queryapi_test

import (
	"context"
	"log/slog"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/transfer"
	"annals/internal/ledger/views"
)

func TestGetTransfer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	quiet := slog.New(slog.DiscardHandler)
	transfers := views.NewMemoryTransfers()
	view := views.NewTransfers(transfers, f.store, nil, quiet)
	f.h = queryapi.New(queryapi.Config{Vault: personal.NewVault(personal.NewMemoryKeys()), Store: f.store, Accounts: f.view, Transfers: transfers, NewID: newID, Log: quiet})
	f.open(t, "t1", "a", "alice").deposit(t, 1000)
	f.open(t, "t1", "b", "bob")
	project := func(id string) {
		s, _ := app.TransferStream("t1", id)
		page, err := f.store.Read(ctx, s, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := view.Apply(ctx, page.Events); err != nil {
			t.Fatal(err)
		}
	}
	request := func(id string, amount int64) eventstore.StreamID {
		s, _ := app.TransferStream("t1", id)
		evs, _ := app.EncodeTransfer(transfer.Requested{TransferID: id, FromAccountID: "a", ToAccountID: "b", Amount: amount, Currency: "EUR"})
		if _, err := f.store.Append(ctx, eventstore.NewStream(s), evs, eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
		return s
	}
	m := app.NewManager(f.store, quiet, 0)

	// Requested, not yet in the view: read from its stream.
	s := request("tr-1", 400)
	resp := f.do(t, req{path: "/transfers/tr-1"})
	b := expect(t, resp, 200, "")
	if b["status"] != "pending" || num(b, "amount") != 400 || b["fromAccountId"] != "a" || b["toAccountId"] != "b" || resp.Headers[queryapi.SourceHeader] != "events" {
		t.Fatalf("pending transfer: %v %v", b, resp.Headers)
	}
	// The view shows it pending while the manager completed it: the
	// stream answers, with the completion.
	project("tr-1")
	if _, err := m.Drive(ctx, s); err != nil {
		t.Fatal(err)
	}
	resp = f.do(t, req{path: "/transfers/tr-1"})
	if b := expect(t, resp, 200, ""); b["status"] != "completed" || num(b, "version") != 3 || resp.Headers["ETag"] != `"3"` {
		t.Fatalf("completed transfer: %v %v", b, resp.Headers)
	}
	// Once the view has it ended, the view answers.
	project("tr-1")
	resp = f.do(t, req{path: "/transfers/tr-1"})
	if b := expect(t, resp, 200, ""); b["status"] != "completed" || resp.Headers[queryapi.SourceHeader] != "view" {
		t.Fatalf("from the view: %v %v", b, resp.Headers)
	}

	// A failed transfer says why.
	s = request("tr-2", 5000)
	if _, err := m.Drive(ctx, s); err != nil {
		t.Fatal(err)
	}
	if b := expect(t, f.do(t, req{path: "/transfers/tr-2"}), 200, ""); b["status"] != "failed" || b["reason"] != "insufficient-funds" {
		t.Fatalf("failed transfer: %v", b)
	}

	// Both accounts' histories carry the transfer id.
	for _, acc := range []string{"a", "b"} {
		as, _ := app.AccountStream("t1", acc)
		page, _ := f.store.Read(ctx, as, 1, 100)
		found := false
		for _, e := range page.Events {
			ev, _ := app.Decode(e)
			switch ev := ev.(type) {
			case account.MoneyDeposited:
				found = found || ev.TransferID == "tr-1"
			case account.MoneyWithdrawn:
				found = found || ev.TransferID == "tr-1"
			}
		}
		if !found {
			t.Errorf("account %s has no movement of tr-1", acc)
		}
	}

	expect(t, f.do(t, req{path: "/transfers/nope"}), 404, "not-found")
	expect(t, f.do(t, req{path: "/transfers/tr-1", tenant: "t2"}), 404, "not-found")
	expect(t, f.do(t, req{path: "/transfers/tr-1", query: "version=1"}), 400, "validation")
	expect(t, f.do(t, req{path: "/transfers/tr-1", method: "DELETE"}), 405, "method-not-allowed")
	expect(t, f.do(t, req{path: "/transfers/tr-1", scopes: []string{"ledger:write"}}), 403, "forbidden")
}
