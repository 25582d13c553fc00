package envelope_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
)

// commit is one two-event commit of one stream, as the events table holds it.
func commit(t testing.TB) []eventstore.Event {
	t.Helper()
	s, err := eventstore.NewStreamID("acme", "account", "a1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	meta := eventstore.Metadata{CommandID: "c", CorrelationID: "r", CausationID: "x", Actor: "alice", TraceID: "1-5759e988-bd862e3fe1be46a994272793"}
	return []eventstore.Event{
		{ID: "e1", Stream: s, Version: 1, Type: "AccountOpened", SchemaVersion: 1, OccurredAt: at.Add(-time.Second),
			RecordedAt: at, Data: json.RawMessage(`{"owner":"bob <b@example.com>"}`), CommitID: "k1", Metadata: meta},
		{ID: "e2", Stream: s, Version: 2, Type: "Deposited", SchemaVersion: 1, OccurredAt: at.Add(-time.Second),
			RecordedAt: at, Data: json.RawMessage(`{"amount":5}`), CommitID: "k1", Metadata: meta},
	}
}

func TestRoundTrip(t *testing.T) {
	want := commit(t)
	b, err := envelope.Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"owner":"bob <b@example.com>"`) {
		t.Errorf("event data was not carried as stored: %s", b)
	}
	got, err := envelope.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

// Decode refuses anything that is not one commit of one stream, saying why.
func TestDecodeRefuses(t *testing.T) {
	edit := func(f func(evs []map[string]any)) []byte {
		b, err := envelope.Encode(commit(t))
		if err != nil {
			t.Fatal(err)
		}
		var evs []map[string]any
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Fatal(err)
		}
		f(evs)
		out, err := json.Marshal(evs)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not JSON", []byte(`{`), "unexpected end of JSON input"},
		{"empty batch", []byte(`[]`), "empty batch"},
		{"other spec", edit(func(e []map[string]any) { e[0]["specversion"] = "0.3" }), `specversion "0.3" is not "1.0"`},
		{"other content type", edit(func(e []map[string]any) { e[1]["datacontenttype"] = "text/plain" }), "event 1: datacontenttype"},
		{"no id", edit(func(e []map[string]any) { e[0]["id"] = "" }), "id is empty"},
		{"foreign source", edit(func(e []map[string]any) { e[0]["source"] = "other/acme/account" }), "is not annals/<tenant>/<category>"},
		{"version gap", edit(func(e []map[string]any) { e[1]["streamversion"] = 3 }), "event 1 has version 3 after 1"},
		{"two streams", edit(func(e []map[string]any) { e[1]["subject"] = "a2" }), "event 1 is on stream"},
		{"two commits", edit(func(e []map[string]any) { e[1]["commitid"] = "k2" }), "not of the same commit"},
		{"two traces", edit(func(e []map[string]any) { delete(e[1], "xraytraceid") }), "not of the same commit"},
		{"bad time", edit(func(e []map[string]any) { e[0]["time"] = "yesterday" }), "event 0: time"},
		{"data not JSON", edit(func(e []map[string]any) { delete(e[0], "data") }), "data is missing or not JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := envelope.Decode(c.data)
			if !errors.Is(err, envelope.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Decode = %v, want ErrInvalid saying %q", err, c.want)
			}
		})
	}
}

// Decode takes outside input (any Kinesis record). It must never panic,
// must wrap ErrInvalid on refusal, and what it accepts must encode back to
// an envelope that decodes to the same events.
func FuzzDecode(f *testing.F) {
	good, err := envelope.Encode(commit(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"specversion":"1.0"}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := envelope.Decode(data)
		if err != nil {
			if !errors.Is(err, envelope.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(evs) == 0 {
			t.Fatal("accepted an envelope without events")
		}
		again, err := envelope.Encode(evs)
		if err != nil {
			t.Fatalf("accepted events do not encode: %v", err)
		}
		back, err := envelope.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(back, evs) {
			t.Fatalf("round trip changed the events:\n%+v\n%+v", evs, back)
		}
	})
}
