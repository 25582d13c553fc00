package account

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
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
		AccountOpened{AccountID: "acc-1", Owner: "Ada", Currency: "EUR", OverdraftLimit: 0},
		"AccountOpened",
		`{"accountId":"acc-1","owner":"Ada","currency":"EUR","overdraftLimit":0}`,
	},
	{
		MoneyDeposited{Amount: 5, Reference: "r", BalanceAfter: 5},
		"MoneyDeposited",
		`{"amount":5,"reference":"r","balanceAfter":5}`,
	},
	{
		MoneyDeposited{Amount: 5, TransferID: "tr-1", BalanceAfter: -3},
		"MoneyDeposited",
		`{"amount":5,"reference":"","transferId":"tr-1","balanceAfter":-3}`,
	},
	{
		MoneyWithdrawn{Amount: MaxAmount, Reference: "ünïcode", BalanceAfter: -MaxAmount},
		"MoneyWithdrawn",
		`{"amount":1000000000000000,"reference":"ünïcode","balanceAfter":-1000000000000000}`,
	},
	{
		MoneyWithdrawn{Amount: 1, TransferID: "tr-1", BalanceAfter: 9},
		"MoneyWithdrawn",
		`{"amount":1,"reference":"","transferId":"tr-1","balanceAfter":9}`,
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
		if typ != tc.typ || typ != tc.event.EventType() || sv != 1 {
			t.Errorf("encode %#v: type %q v%d, want %q v1", tc.event, typ, sv, tc.typ)
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
		{"AccountOpened", 2},
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
	opened := `{"accountId":"acc-1","owner":"Ada","currency":"EUR","overdraftLimit":0}`
	cases := []struct {
		name, typ, data string
	}{
		{"not JSON", "AccountOpened", `{`},
		{"empty", "AccountClosed", ``},
		{"null", "AccountClosed", `null`},
		{"an array", "AccountClosed", `[]`},
		{"a wrong type", "MoneyDeposited", `{"amount":"5","balanceAfter":5}`},
		{"a fraction", "MoneyDeposited", `{"amount":5.5,"balanceAfter":5}`},
		{"beyond int64", "MoneyWithdrawn", `{"amount":1,"balanceAfter":9223372036854775808}`},
		{"no balance", "MoneyWithdrawn", `{"amount":1}`},
		{"a null balance", "MoneyDeposited", `{"amount":1,"balanceAfter":null}`},
		{"a balance nulled again", "MoneyDeposited", `{"amount":1,"balanceAfter":2,"balanceAfter":null}`},
		{"no transfer id", "TransferOutBegun", `{"amount":1}`},
		{"no transfer id", "TransferOutEnded", `{}`},
	}
	// Each required field of AccountOpened, left out in turn.
	for _, f := range []string{"accountId", "owner", "currency", "overdraftLimit"} {
		var m map[string]any
		if err := json.Unmarshal([]byte(opened), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, f)
		b, _ := json.Marshal(m)
		cases = append(cases, struct{ name, typ, data string }{"AccountOpened without " + f, "AccountOpened", string(b)})
	}
	for _, tc := range cases {
		e, err := DecodeEvent(tc.typ, 1, []byte(tc.data))
		if !errors.Is(err, ErrMalformedEvent) {
			t.Errorf("%s: DecodeEvent(%s, %s) = %#v, %v; want ErrMalformedEvent", tc.name, tc.typ, tc.data, e, err)
		}
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	e, err := DecodeEvent("MoneyDeposited", 1, []byte(`{"amount":5,"balanceAfter":5,"channel":"atm"}`))
	if err != nil || !reflect.DeepEqual(e, deposited(5, 5)) {
		t.Errorf("got %#v, %v; want %#v", e, err, deposited(5, 5))
	}
}

func TestDecodeKeepsWithdrawnCurrencies(t *testing.T) {
	// An account opened in a currency later withdrawn from ISO 4217 must
	// still load.
	e, err := DecodeEvent("AccountOpened", 1, []byte(`{"accountId":"a","owner":"o","currency":"HRK","overdraftLimit":0}`))
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

// TestUpcasting drives the upcasting hook with a registry in which
// AccountOpened is at version 3: version 1 called the owner "name",
// version 2 had no overdraft.
func TestUpcasting(t *testing.T) {
	codecs := []eventCodec{codecFor[AccountOpened](TypeAccountOpened, 3, "accountId", "owner", "currency", "overdraftLimit")}
	ups := map[upcastKey]upcaster{
		{TypeAccountOpened, 1}: func(data []byte) ([]byte, error) {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, err
			}
			m["owner"] = m["name"]
			delete(m, "name")
			return json.Marshal(m)
		},
		{TypeAccountOpened, 2}: func(data []byte) ([]byte, error) {
			s := strings.TrimSuffix(strings.TrimSpace(string(data)), "}")
			return []byte(s + `,"overdraftLimit":0}`), nil
		},
	}
	r := newRegistry(codecs, ups)
	want := AccountOpened{AccountID: "a", Owner: "Ada", Currency: "EUR"}

	for sv, data := range map[int]string{
		1: `{"accountId":"a","name":"Ada","currency":"EUR"}`,
		2: `{"accountId":"a","owner":"Ada","currency":"EUR"}`,
		3: `{"accountId":"a","owner":"Ada","currency":"EUR","overdraftLimit":0}`,
	} {
		got, err := r.decode(TypeAccountOpened, sv, []byte(data))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("v%d: got %#v, %v; want %#v", sv, got, err, want)
		}
	}

	_, err := r.decode(TypeAccountOpened, 1, []byte(`not json`))
	if !errors.Is(err, ErrMalformedEvent) {
		t.Errorf("failing upcaster: error %v, want ErrMalformedEvent", err)
	}

	delete(ups, upcastKey{TypeAccountOpened, 1})
	var ue *UnknownEventError
	if _, err := r.decode(TypeAccountOpened, 1, []byte(`{}`)); !errors.As(err, &ue) {
		t.Errorf("missing upcaster: error %v, want *UnknownEventError", err)
	}
}

func TestNoUpcastersForCurrentVersions(t *testing.T) {
	// An upcaster reading the current version or later would never run, and
	// shows a schema bump that forgot its constant.
	for k := range upcasters {
		if c, ok := defaultRegistry.codecs[k.typ]; !ok || k.schemaVersion >= c.schemaVersion || k.schemaVersion < 1 {
			t.Errorf("upcaster %v is unreachable", k)
		}
	}
}
