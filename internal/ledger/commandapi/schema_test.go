package commandapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// A deposit records the channel and the counterparty it is given; without
// them it is on the unknown channel with no counterparty.
func TestDepositRecordsItsChannelAndCounterparty(t *testing.T) {
	f := newFixture(t)
	id := f.open(t, 0)
	for _, c := range []struct {
		path, body, want string
	}{
		{"/deposits", `{"amount":5,"channel":"card","counterparty":"Café Zoë"}`, `"channel":"card","counterparty":"Café Zoë"`},
		{"/withdrawals", `{"amount":1,"channel":"cash"}`, `"channel":"cash","balanceAfter"`},
		{"/deposits", `{"amount":5}`, `"channel":"unknown","balanceAfter"`},
	} {
		expect(t, f.do(t, req{path: "/accounts/" + id + c.path, body: c.body}), 200, "")
		ev := f.lastEvent(t, id)
		if current, _ := app.Schemas.Current(ev.Type); ev.SchemaVersion != current || !json.Valid(ev.Data) || !contains(ev.Data, c.want) {
			t.Errorf("%s: recorded %s at version %d, want %s at %d", c.body, ev.Data, ev.SchemaVersion, c.want, current)
		}
	}
	b := expect(t, f.do(t, req{path: "/accounts/" + id + "/deposits", body: `{"amount":5,"channel":"pigeon","counterparty":"a\u0007b"}`}), 400, httpapi.KindValidation)
	if errs, _ := b["errors"].([]any); len(errs) != 2 {
		t.Errorf("errors %v, want the channel's and the counterparty's", b["errors"])
	}
}

func contains(data []byte, s string) bool { return strings.Contains(string(data), s) }

// A command on an account whose stream holds an event at a schema version
// newer than this code reads (a newer deployment wrote it) is refused with
// the schema-ahead problem, and records nothing: the event is never
// guessed at.
func TestCommandsRefuseEventsFromANewerDeployment(t *testing.T) {
	f := newFixture(t)
	id := f.open(t, 0)
	stream, _ := app.AccountStream("t1", id)
	cur, err := app.NewAccounts(f.store).Load(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	current, _ := app.Schemas.Current(account.TypeMoneyDeposited)
	ahead := []eventstore.NewEvent{{Type: account.TypeMoneyDeposited, SchemaVersion: current + 1,
		Data: json.RawMessage(`{"amount":1,"channel":"cash","balanceAfter":1,"fx":{"rate":"1.1"}}`)}}
	if _, err := f.store.Append(t.Context(), cur.Head, ahead, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/deposits", "/withdrawals", "/close"} {
		body := `{"amount":1}`
		if path == "/close" {
			body = `{}`
		}
		resp := f.do(t, req{path: "/accounts/" + id + path, body: body})
		expect(t, resp, 503, httpapi.KindSchemaAhead)
		if resp.Headers["Retry-After"] == "" {
			t.Errorf("%s: no Retry-After", path)
		}
	}
	if last := f.lastEvent(t, id); last.Version != cur.Head.Version()+1 || last.SchemaVersion != current+1 {
		t.Errorf("the stream ends at version %d (schema %d) after the refusals, want %d", last.Version, last.SchemaVersion, cur.Head.Version()+1)
	}
}
