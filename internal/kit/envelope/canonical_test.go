package envelope

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
)

// encoded is what Encode writes for a commit of two events, with metadata
// or without.
func encoded(t testing.TB, meta eventstore.Metadata) []byte {
	t.Helper()
	s, err := eventstore.NewStreamID("acme", "account", "a1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	var evs []eventstore.Event
	for v, data := range []string{`{"amount":5,"reference":"rent \"May\" \u2028 é","balanceAfter":-5}`, `[1,{"a":null},"x",true]`} {
		evs = append(evs, eventstore.Event{
			ID: "e" + string(rune('1'+v)), Stream: s, Version: int64(7 + v), Type: "Deposited", SchemaVersion: 2,
			OccurredAt: at.Add(-time.Second), RecordedAt: at, Data: json.RawMessage(data), CommitID: "c1", Metadata: meta,
		})
	}
	b, err := Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// What Encode writes is read without encoding/json, or the fast path
// would save nothing.
func TestEncodeWritesTheCanonicalForm(t *testing.T) {
	for _, meta := range []eventstore.Metadata{{}, {CommandID: "cmd", CorrelationID: "cor", CausationID: "cau", Actor: "ann"}} {
		data := encoded(t, meta)
		if _, ok := readCanonical(data); !ok {
			t.Errorf("%s is not read canonically", data)
		}
	}
}

// What readCanonical accepts, encoding/json reads the same, so the fast
// path decides nothing of its own: it accepts nothing encoding/json
// refuses, and reads every field as encoding/json does.
func FuzzCanonical(f *testing.F) {
	good := string(encoded(f, eventstore.Metadata{Actor: "ann"}))
	f.Add([]byte(good))
	for _, edit := range [][2]string{
		{`"specversion"`, `"SpecVersion"`},            // a key in another case
		{`"id":"e1"`, `"id":"e1","id":"e9"`},          // a key twice
		{`"id":"e1"`, `"id":"e\u0031"`},               // an escape
		{`"id":"e1"`, `"id":null`},                    // null
		{`"id":"e1"`, `"id":"e1","extra":{"x":[1]}}`}, // an unknown key
		{`"streamversion":7`, `"streamversion":07`},   // a leading zero
		{`"streamversion":7`, `"streamversion":-0`},
		{`"streamversion":7`, `"streamversion":7.0`},
		{`"streamversion":7`, `"streamversion":7e0`},
		{`"streamversion":7`, `"streamversion":99999999999999999999`},
		{`"schemaversion":2`, `"schemaversion":"2"`},
		{`"data":{`, `"data": {`}, // blanks
		{`"data":{`, `"data":{ `},
		{`,"balanceAfter":-5}`, `,"balanceAfter":-5} `},
		{`"data":{"amount":5`, `"data":{"amount":5,"streamversion":1`},
		{`"data":{`, `"data":{{`},
		{`"data":[1,{"a":null},"x",true]`, `"data":"x\"]}"`},
		{`"data":[1,{"a":null},"x",true]`, `"data":null`},
		{`"data":[1,{"a":null},"x",true]`, `"data":12`},
		{`"data":[1,{"a":null},"x",true]`, `"data":`},
		{`"actor":"ann"`, "\"actor\":\"a\tn\""},     // a control character
		{`"actor":"ann"`, "\"actor\":\"a\xffn\""},   // not UTF-8
		{`"actor":"ann"`, "\"actor\":\"a\u2028n\""}, // a line separator, as it is
		{`]`, `] `},
		{`]`, `],`},
		{`[{`, `[ {`},
		{`}]`, `},{}]`},
	} {
		if !strings.Contains(good, edit[0]) {
			f.Fatalf("the envelope holds no %s", edit[0])
		}
		f.Add([]byte(strings.Replace(good, edit[0], edit[1], 1)))
	}
	for _, s := range []string{`[]`, `[{}]`, `null`, `{}`, `[{"data":{"a":"\\"}}]`, `[{"data":"\\"}]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := readCanonical(data)
		if !ok {
			return
		}
		var want []cloudEvent
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("read %q canonically, but encoding/json refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read %q canonically as\n%+v\nencoding/json reads\n%+v", data, got, want)
		}
	})
}

// The events decoded share no bytes with the record, which its caller may
// reuse.
func TestDecodeSharesNothingWithTheRecord(t *testing.T) {
	data := encoded(t, eventstore.Metadata{Actor: "ann"})
	want, err := Decode(bytes.Clone(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("overwriting the record changed the events:\n%+v\nwant\n%+v", got, want)
	}
}
