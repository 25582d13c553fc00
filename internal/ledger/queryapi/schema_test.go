package queryapi_test

import (
	"encoding/json"
	"os"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// The audit trail shows events recorded at schema version 1 (the golden
// items, written by the code of that version) in their current shape,
// with the version they were recorded at.
func TestAuditTrailShowsOldEventsInTheCurrentShape(t *testing.T) {
	raw, err := os.ReadFile("../app/testdata/golden-v1/items.json")
	if err != nil {
		t.Fatal(err)
	}
	backend, err := storetest.LoadItemsJSON(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOver(t, backend)
	got := f.all(t, req{path: "/accounts/acc-golden-1/events", tenant: "golden"}, 4)
	if len(got) != 9 {
		t.Fatalf("%d events, want 9", len(got))
	}
	channels := map[string]int{}
	for _, e := range got {
		typ, _ := e["type"].(string)
		if num(e, "schemaVersion") != 1 {
			t.Errorf("version %d: schemaVersion %v, want 1 as recorded", num(e, "version"), e["schemaVersion"])
		}
		current, _ := app.Schemas.Current(typ)
		if num(e, "dataSchemaVersion") != int64(current) {
			t.Errorf("version %d (%s): dataSchemaVersion %v, want %d", num(e, "version"), typ, e["dataSchemaVersion"], current)
		}
		if typ != account.TypeMoneyDeposited && typ != account.TypeMoneyWithdrawn {
			continue
		}
		data, _ := json.Marshal(e["data"])
		ev, err := account.DecodeEvent(typ, current, data)
		if err != nil {
			t.Errorf("version %d: %s does not decode at version %d: %v", num(e, "version"), data, current, err)
			continue
		}
		var channel account.Channel
		var counterparty, transferID string
		switch ev := ev.(type) {
		case account.MoneyDeposited:
			channel, counterparty, transferID = ev.Channel, ev.Counterparty, ev.TransferID
		case account.MoneyWithdrawn:
			channel, counterparty, transferID = ev.Channel, ev.Counterparty, ev.TransferID
		}
		want := account.ChannelUnknown
		if transferID != "" {
			want = account.ChannelTransfer
		}
		if channel != want || counterparty != "" {
			t.Errorf("version %d: channel %q, counterparty %q; want %q and none", num(e, "version"), channel, counterparty, want)
		}
		channels[string(channel)]++
	}
	if channels["unknown"] != 5 || channels["transfer"] != 1 {
		t.Errorf("channels %v, want 5 unknown and 1 transfer", channels)
	}
}

// An event recorded at a schema version newer than this code reads is not
// guessed at: the audit trail and the account's state are refused with the
// schema-ahead problem, which tells the client it is not at fault.
func TestQueriesRefuseEventsFromANewerDeployment(t *testing.T) {
	f := newFixture(t)
	w := f.open(t, "t1", "acc-1", "alice")
	w.deposit(t, 5)
	w.project(t)
	current, _ := app.Schemas.Current(account.TypeMoneyDeposited)
	s, _ := app.AccountStream("t1", "acc-1")
	cur, err := app.NewAccounts(f.store).Load(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	ahead := []eventstore.NewEvent{{Type: account.TypeMoneyDeposited, SchemaVersion: current + 1,
		Data: json.RawMessage(`{"amount":1,"channel":"cash","balanceAfter":6,"fx":{"rate":"1.1"}}`)}}
	if _, err := f.store.Append(t.Context(), cur.Head, ahead, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []req{{path: "/accounts/acc-1/events"}, {path: "/accounts/acc-1", query: "version=3"}} {
		resp := f.do(t, r)
		expect(t, resp, 503, httpapi.KindSchemaAhead)
		if resp.Headers["Retry-After"] == "" {
			t.Errorf("%s?%s: no Retry-After", r.path, r.query)
		}
	}
}
