package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/kit/personal"
	"annals/internal/kit/testclock"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/app/goldentest"
	"annals/internal/ledger/transfer"
)

var writeGolden = flag.Bool("write-golden-v1", false,
	"write "+goldenV1Path+" from the code as it is: only ever done by the code that wrote version-1 events")

// goldenV1Path holds the raw items of the events table as the code of
// schema version 1 wrote them: two accounts with deposits, withdrawals,
// a transfer's legs and snapshots, and the transfer's stream. They are
// never rewritten: every later version of the code must read them.
const goldenV1Path = "testdata/golden-v1/items.json"

// goldenTenant and the accounts the golden items hold.
const (
	goldenTenant = "golden"
	goldenFrom   = "acc-golden-1"
	goldenTo     = "acc-golden-2"
	goldenTr     = "tr-golden-1"
)

// writeGoldenV1 runs the commands and the process manager over a memory
// table with a fixed clock and fixed ids, and dumps every item.
func writeGoldenV1(t *testing.T) {
	ctx := context.Background()
	backend := eventstore.NewMemoryBackend()
	clock := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), time.Second)
	n := 0
	ids := func() string { n++; return fmt.Sprintf("0195a1b2-0000-7000-8000-%012x", n) }
	store := eventstore.New(backend, eventstore.WithClock(clock.Now), eventstore.WithIDs(ids), eventstore.WithSnapshotEvery(4),
		eventstore.WithLogger(slog.New(slog.DiscardHandler)))
	cmds := app.NewCommands(store, personal.NewVault(personal.NewMemoryKeys()), 0)
	run := func(id string, c account.Command) {
		t.Helper()
		if _, err := cmds.Execute(ctx, app.AccountCommand{Tenant: goldenTenant, AccountID: id, Command: c,
			Meta: eventstore.Metadata{CommandID: ids(), CorrelationID: ids(), Actor: "golden"}}); err != nil {
			t.Fatalf("%s %T: %v", id, c, err)
		}
	}
	run(goldenFrom, account.Open{AccountID: goldenFrom, Owner: "Ada", Currency: "EUR", OverdraftLimit: 1_000})
	run(goldenFrom, account.Deposit{Amount: 10_000, Reference: "salary"})
	run(goldenFrom, account.Withdraw{Amount: 2_500, Reference: "rent"})
	run(goldenFrom, account.Deposit{Amount: 300})
	run(goldenFrom, account.Withdraw{Amount: 8_000, Reference: "car"})
	run(goldenTo, account.Open{AccountID: goldenTo, Owner: "Grace", Currency: "EUR"})
	run(goldenTo, account.Deposit{Amount: 50, Reference: "cash"})
	if _, err := cmds.RequestTransfer(ctx, app.TransferCommand{Tenant: goldenTenant,
		Request: transfer.Request{TransferID: goldenTr, FromAccountID: goldenFrom, ToAccountID: goldenTo, Amount: 700, Reference: "loan"},
		Meta:    eventstore.Metadata{CommandID: ids(), CorrelationID: ids(), Actor: "golden"}}); err != nil {
		t.Fatal(err)
	}
	tr, _ := app.TransferStream(goldenTenant, goldenTr)
	if got, err := app.NewManager(store, slog.New(slog.DiscardHandler), 0).Drive(ctx, tr); err != nil || got.Status != transfer.StatusCompleted {
		t.Fatalf("transfer: %+v, %v", got, err)
	}
	run(goldenFrom, account.Withdraw{Amount: 100, Reference: "fee"})
	raw, err := storetest.ItemsJSON(ctx, backend)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenV1Path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWriteGoldenV1 only writes, and only when asked to.
func TestWriteGoldenV1(t *testing.T) {
	if !*writeGolden {
		return
	}
	writeGoldenV1(t)
}

// readGoldenV1 loads the golden items into a memory table.

// goldenStatesPath holds what the code of schema version 1 folded the
// golden streams into, at every version of each.
const goldenStatesPath = "testdata/golden-v1/states.json"

// goldenStates folds every golden stream at every version of it.
func goldenStates(t *testing.T, store *eventstore.Store) []byte {
	t.Helper()
	out := map[string][]json.RawMessage{}
	for _, s := range []struct{ category, id string }{
		{app.AccountCategory, goldenFrom}, {app.AccountCategory, goldenTo}, {app.TransferCategory, goldenTr},
	} {
		stream, err := eventstore.NewStreamID(goldenTenant, s.category, s.id)
		if err != nil {
			t.Fatal(err)
		}
		head, err := app.StateOf(t.Context(), store, stream, 0, time.Time{})
		if err != nil {
			t.Fatalf("%s: %v", stream, err)
		}
		for v := int64(1); v <= head.Version; v++ {
			st, err := app.StateOf(t.Context(), store, stream, v, time.Time{})
			if err != nil {
				t.Fatalf("%s at %d: %v", stream, v, err)
			}
			raw, err := json.Marshal(st.Value)
			if err != nil {
				t.Fatal(err)
			}
			out[stream.Key()] = append(out[stream.Key()], raw)
		}
	}
	raw, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(raw, '\n')
}

// The golden items of schema version 1 fold, at every version of every
// stream, into what the code that wrote them folded them into.
// Read as every function's store reads them (through app.Schemas), or
// lifted by the fold's Decode alone, they fold alike.
func TestGoldenV1FoldsToTheSameStates(t *testing.T) {
	quiet := eventstore.WithLogger(slog.New(slog.DiscardHandler))
	store := eventstore.New(goldentest.Items(t), eventstore.WithSnapshotEvery(4), quiet, eventstore.WithUpcaster(app.Schemas.Upcaster()))
	got := goldentest.WithoutLiftedDefaults(goldenStates(t, store))
	if alone := goldentest.WithoutLiftedDefaults(goldenStates(t, eventstore.New(goldentest.Items(t), eventstore.WithSnapshotEvery(4), quiet))); !bytes.Equal(alone, got) {
		t.Errorf("folded by Decode alone:\n%s\nthrough the store:\n%s", alone, got)
	}
	if *writeGolden {
		if err := os.WriteFile(goldenStatesPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenStatesPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the golden streams fold into\n%s\nwant\n%s", got, want)
	}
}

// Every event type of the ledger is declared, at the version its domain
// writes, and every golden event is lifted to it.
func TestSchemasDeclareEveryType(t *testing.T) {
	for typ, v := range account.SchemaVersions() {
		if got, ok := app.Schemas.Current(typ); !ok || got != v {
			t.Errorf("%s declared at %d (%v), written at %d", typ, got, ok, v)
		}
	}
	for _, typ := range transfer.Types {
		if got, ok := app.Schemas.Current(typ); !ok || got != transfer.SchemaVersion {
			t.Errorf("%s declared at %d (%v)", typ, got, ok)
		}
	}
	store := eventstore.New(goldentest.Items(t), eventstore.WithUpcaster(app.Schemas.Upcaster()))
	for _, s := range []struct{ category, id string }{{app.AccountCategory, goldenFrom}, {app.AccountCategory, goldenTo}, {app.TransferCategory, goldenTr}} {
		stream, _ := eventstore.NewStreamID(goldenTenant, s.category, s.id)
		p, err := store.Read(t.Context(), stream, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			if current, _ := app.Schemas.Current(e.Type); e.SchemaVersion != current || e.Recorded() != 1 {
				t.Errorf("%s %d (%s) read at %d recorded at %d", stream, e.Version, e.Type, e.SchemaVersion, e.Recorded())
			}
		}
	}
}
