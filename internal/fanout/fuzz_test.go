package fanout_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"annals/internal/eventstore"
	"annals/internal/fanout"
)

// DecodeEnvelope takes outside input (any Kinesis record). It must never
// panic, must wrap ErrEnvelope on refusal, and what it accepts must encode
// back to an envelope that decodes to the same events.
func FuzzDecodeEnvelope(f *testing.F) {
	store, items := newStore()
	if _, err := store.Append(context.Background(), eventstore.NewStream(stream(f, "a1")), []eventstore.NewEvent{
		event("AccountOpened", `{"owner":"bob"}`), event("Deposited", `{"amount":5}`),
	}, eventstore.Metadata{CommandID: "c", CorrelationID: "r", Actor: "alice"}, nil); err != nil {
		f.Fatal(err)
	}
	evs, err := eventstore.DecodeCommit(items.ofKind(eventstore.KindCommit)[0])
	if err != nil {
		f.Fatal(err)
	}
	good, err := fanout.EncodeEnvelope(evs)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"specversion":"1.0"}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := fanout.DecodeEnvelope(data)
		if err != nil {
			if !errors.Is(err, fanout.ErrEnvelope) {
				t.Fatalf("error %v does not wrap ErrEnvelope", err)
			}
			return
		}
		if len(evs) == 0 {
			t.Fatal("accepted an envelope without events")
		}
		again, err := fanout.EncodeEnvelope(evs)
		if err != nil {
			t.Fatalf("accepted events do not encode: %v", err)
		}
		back, err := fanout.DecodeEnvelope(again)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(back, evs) {
			t.Fatalf("round trip changed the events:\n%+v\n%+v", evs, back)
		}
	})
}
