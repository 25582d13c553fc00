package views_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/rebuild"
	"annals/internal/ledger/app"
	"annals/internal/ledger/app/goldentest"
	"annals/internal/ledger/views"
)

var writeGolden = flag.Bool("write-golden-v1", false,
	"write "+goldenViewsPath+" from the code as it is: only ever done by the code that wrote version-1 events")

// goldenViewsPath holds what the code of schema version 1 rebuilt the
// ledger's golden items (goldentest) into.
const goldenViewsPath = "testdata/golden-v1/views.json"

// droppedLetters counts dead letters: a golden stream never makes one.
type droppedLetters struct{ n int }

func (d *droppedLetters) Send(context.Context, string) error { d.n++; return nil }

// The golden items of schema version 1 rebuild every view into what the
// code that wrote them rebuilt them into.
func TestGoldenV1RebuildsTheSameViews(t *testing.T) {
	backend := goldentest.Items(t)
	log := slog.New(slog.DiscardHandler)
	store := eventstore.New(backend, eventstore.WithLogger(log))
	letters := &droppedLetters{}
	dead := projection.NewDeadLetters(letters)
	accounts, history := views.NewMemoryAccounts(), views.NewMemoryHistory()
	statements, transfers := views.NewMemoryStatements(), views.NewMemoryTransfers()
	for _, v := range []struct {
		view     rebuild.View
		category string
	}{
		{views.NewAccounts(accounts, store, dead, log), app.AccountCategory},
		{views.NewHistory(history, store, dead, log), app.AccountCategory},
		{views.NewStatements(statements, store, dead, log), app.AccountCategory},
		{views.NewTransfers(transfers, store, dead, log), app.TransferCategory},
	} {
		if _, err := rebuild.New(rebuild.Config{Events: store, View: v.view, Category: v.category, Segments: 1}).Run(t.Context()); err != nil {
			t.Fatalf("%s: %v", v.view.Name(), err)
		}
	}
	if letters.n != 0 {
		t.Fatalf("%d dead letters", letters.n)
	}
	got := map[string]any{}
	for _, id := range []string{"acc-golden-1", "acc-golden-2"} {
		row, ok, err := accounts.Account(t.Context(), "golden", id)
		if err != nil || !ok {
			t.Fatalf("account %s: %v, %v", id, ok, err)
		}
		entries, err := history.Transactions(t.Context(), "golden", id, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		days, err := statements.Days(t.Context(), "golden", id, "2000-01-01", "2100-01-01")
		if err != nil {
			t.Fatal(err)
		}
		got[id] = map[string]any{"account": row, "history": entries, "statements": days}
	}
	tr, ok, err := transfers.Transfer(t.Context(), "golden", "tr-golden-1")
	if err != nil || !ok {
		t.Fatalf("transfer: %v, %v", ok, err)
	}
	got["tr-golden-1"] = tr
	out, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = goldentest.WithoutLiftedDefaults(append(out, '\n'))
	if *writeGolden {
		if err := os.WriteFile(goldenViewsPath, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenViewsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("the golden streams rebuild into\n%s\nwant\n%s", out, want)
	}
}
