package account

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// everyEvent pins the stored JSON of each event type: stored bytes are never
// rewritten, so a change here breaks history unless it comes with a schema
// version bump and an upcaster.
var everyEvent = []struct {
	event    Event
	typ      string
	wantJSON string
}{
	{
		AccountOpened{AccountID: "acc-1", DataSubject: "cust-1", Owner: "Ada", Currency: "EUR", OverdraftLimit: 0},
		"AccountOpened",
		`{"accountId":"acc-1","dataSubject":"cust-1","owner":"Ada","currency":"EUR","overdraftLimit":0}`,
	},
	{
		MoneyDeposited{Amount: 5, Reference: "r", Channel: ChannelCash, Counterparty: "Ada's café", BalanceAfter: 5},
		"MoneyDeposited",
		`{"amount":5,"reference":"r","channel":"cash","counterparty":"Ada's café","balanceAfter":5}`,
	},
	{
		MoneyDeposited{Amount: 5, TransferID: "tr-1", Channel: ChannelTransfer, BalanceAfter: -3},
		"MoneyDeposited",
		`{"amount":5,"reference":"","transferId":"tr-1","channel":"transfer","balanceAfter":-3}`,
	},
	{
		MoneyWithdrawn{Amount: MaxAmount, Reference: "ünïcode", Channel: ChannelUnknown, BalanceAfter: -MaxAmount},
		"MoneyWithdrawn",
		`{"amount":1000000000000000,"reference":"ünïcode","channel":"unknown","balanceAfter":-1000000000000000}`,
	},
	{
		MoneyWithdrawn{Amount: 1, TransferID: "tr-1", Channel: ChannelTransfer, BalanceAfter: 9},
		"MoneyWithdrawn",
		`{"amount":1,"reference":"","transferId":"tr-1","channel":"transfer","balanceAfter":9}`,
	},
	{AccountClosed{}, "AccountClosed", `{}`},
	{TransferOutBegun{TransferID: "tr-1", Amount: 40}, "TransferOutBegun", `{"transferId":"tr-1","amount":40}`},
	{TransferOutEnded{TransferID: "tr-1"}, "TransferOutEnded", `{"transferId":"tr-1"}`},
}

func TestEventRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range everyEvent {
		typ, sv, data, err := EncodeEvent(tc.event)
		if err != nil {
			t.Fatalf("encode %#v: %v", tc.event, err)
		}
		if typ != tc.typ || typ != tc.event.EventType() || sv != SchemaVersions()[typ] {
			t.Errorf("encode %#v: type %q v%d, want %q v%d", tc.event, typ, sv, tc.typ, SchemaVersions()[typ])
		}
		if string(data) != tc.wantJSON {
			t.Errorf("encode %s:\n got %s\nwant %s", typ, data, tc.wantJSON)
		}
		got, err := DecodeEvent(typ, sv, data)
		if err != nil {
			t.Fatalf("decode %s %s: %v", typ, data, err)
		}
		if !reflect.DeepEqual(got, tc.event) {
			t.Errorf("round trip of %s: got %#v, want %#v", typ, got, tc.event)
		}
		seen[typ] = true
	}
	for _, c := range eventCodecs {
		if !seen[c.typ] {
			t.Errorf("event type %s has no round-trip case", c.typ)
		}
	}
}

func TestDecodeUnknownEvent(t *testing.T) {
	for _, tc := range []struct {
		typ string
		sv  int
	}{
		{"AccountRenamed", 1},
		{"", 1},
		{"accountOpened", 1},
		{"AccountOpened", 1}, // lifted before it reaches the domain
		{"AccountOpened", 3},
		{"MoneyDeposited", 1},
		{"MoneyDeposited", 2},
		{"MoneyDeposited", 4},
		{"MoneyDeposited", 0},
		{"MoneyDeposited", -1},
	} {
		_, err := DecodeEvent(tc.typ, tc.sv, []byte(`{}`))
		var ue *UnknownEventError
		if !errors.As(err, &ue) || ue.Type != tc.typ || ue.SchemaVersion != tc.sv {
			t.Errorf("DecodeEvent(%q, %d): error %v, want *UnknownEventError for it", tc.typ, tc.sv, err)
		}
	}
}

func TestDecodeMalformedEvent(t *testing.T) {
	opened := `{"accountId":"acc-1","dataSubject":"acc-1","owner":"Ada","currency":"EUR","overdraftLimit":0}`
	cases := []struct {
		name, typ, data string
	}{
		{"not JSON", "AccountOpened", `{`},
		{"empty", "AccountClosed", ``},
		{"null", "AccountClosed", `null`},
		{"an array", "AccountClosed", `[]`},
		{"a wrong type", "MoneyDeposited", `{"amount":"5","channel":"cash","balanceAfter":5}`},
		{"a fraction", "MoneyDeposited", `{"amount":5.5,"channel":"cash","balanceAfter":5}`},
		{"beyond int64", "MoneyWithdrawn", `{"amount":1,"channel":"cash","balanceAfter":9223372036854775808}`},
		{"no balance", "MoneyWithdrawn", `{"amount":1,"channel":"cash"}`},
		{"no channel", "MoneyWithdrawn", `{"amount":1,"balanceAfter":1}`},
		{"a null balance", "MoneyDeposited", `{"amount":1,"channel":"cash","balanceAfter":null}`},
		{"a balance nulled again", "MoneyDeposited", `{"amount":1,"channel":"cash","balanceAfter":2,"balanceAfter":null}`},
		{"no transfer id", "TransferOutBegun", `{"amount":1}`},
		{"no transfer id", "TransferOutEnded", `{}`},
	}
	// Each required field of AccountOpened, left out in turn.
	for _, f := range []string{"accountId", "dataSubject", "owner", "currency", "overdraftLimit"} {
		var m map[string]any
		if err := json.Unmarshal([]byte(opened), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, f)
		b, _ := json.Marshal(m)
		cases = append(cases, struct{ name, typ, data string }{"AccountOpened without " + f, "AccountOpened", string(b)})
	}
	for _, tc := range cases {
		e, err := DecodeEvent(tc.typ, SchemaVersions()[tc.typ], []byte(tc.data))
		if !errors.Is(err, ErrMalformedEvent) {
			t.Errorf("%s: DecodeEvent(%s, %s) = %#v, %v; want ErrMalformedEvent", tc.name, tc.typ, tc.data, e, err)
		}
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	e, err := DecodeEvent("MoneyDeposited", 3, []byte(`{"amount":5,"balanceAfter":5,"channel":"unknown","branch":"atm"}`))
	if want := (MoneyDeposited{Amount: 5, Channel: ChannelUnknown, BalanceAfter: 5}); err != nil || !reflect.DeepEqual(e, want) {
		t.Errorf("got %#v, %v; want %#v", e, err, want)
	}
}

func TestDecodeKeepsWithdrawnCurrencies(t *testing.T) {
	// An account opened in a currency later withdrawn from ISO 4217 must
	// still load.
	e, err := DecodeEvent("AccountOpened", 2, []byte(`{"accountId":"a","dataSubject":"a","owner":"o","currency":"HRK","overdraftLimit":0}`))
	if err != nil || e.(AccountOpened).Currency != "HRK" {
		t.Errorf("got %#v, %v", e, err)
	}
}

func TestEncodeRejectsForeignEvents(t *testing.T) {
	for _, e := range []Event{nil, foreignEvent{}, &MoneyDeposited{}, (*AccountClosed)(nil)} {
		var ue *UnknownEventError
		if _, _, _, err := EncodeEvent(e); !errors.As(err, &ue) {
			t.Errorf("EncodeEvent(%#v): error %v, want *UnknownEventError", e, err)
		}
	}
}

// A version-1 deposit or withdrawal lifts to version 2 with the channel it
// says as much as it can of, and no counterparty; the lift refuses what is
// not a version-1 object.
func TestLiftMovementV1(t *testing.T) {
	for _, typ := range []string{TypeMoneyDeposited, TypeMoneyWithdrawn} {
		lifts := Lifts[typ]
		if len(lifts) != SchemaVersions()[typ]-1 {
			t.Fatalf("%s: %d lifts for schema version %d", typ, len(lifts), SchemaVersions()[typ])
		}
		for v1, want := range map[string]string{
			`{"amount":5,"reference":"r","balanceAfter":5}`:                     `{"amount":5,"balanceAfter":5,"channel":"unknown","reference":"r"}`,
			`{"amount":5,"reference":"","transferId":"tr-1","balanceAfter":-3}`: `{"amount":5,"balanceAfter":-3,"channel":"transfer","reference":"","transferId":"tr-1"}`,
			`{"amount":5,"reference":"","transferId":"","balanceAfter":1}`:      `{"amount":5,"balanceAfter":1,"channel":"unknown","reference":"","transferId":""}`,
			`{"amount":5,"balanceAfter":5,"counterparty":"x","channel":"card"}`: `{"amount":5,"balanceAfter":5,"channel":"unknown"}`,
		} {
			got, err := lifts[0]([]byte(v1))
			if err != nil || string(got) != want {
				t.Errorf("%s %s: %s, %v; want %s", typ, v1, got, err, want)
			}
			if _, err := DecodeEvent(typ, SchemaVersions()[typ], got); err != nil {
				t.Errorf("%s %s lifted does not decode: %v", typ, got, err)
			}
		}
		for _, bad := range []string{`null`, `[]`, `{`, `{"transferId":5}`} {
			if got, err := lifts[0]([]byte(bad)); err == nil {
				t.Errorf("%s %s: lifted to %s", typ, bad, got)
			}
		}
	}
	for typ := range Lifts {
		if _, ok := SchemaVersions()[typ]; !ok {
			t.Errorf("lifts for %s, which is no event type", typ)
		}
	}
}
