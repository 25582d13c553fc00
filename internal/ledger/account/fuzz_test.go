package account

import (
	"reflect"
	"testing"
)

func FuzzDecodeEvent(f *testing.F) {
	for _, tc := range everyEvent {
		f.Add(tc.typ, SchemaVersions()[tc.typ], []byte(tc.wantJSON))
	}
	f.Add("AccountOpened", 2, []byte(`{}`))
	f.Add("MoneyDeposited", 1, []byte(`{"amount":1e400,"balanceAfter":null}`))
	f.Add("TransferOutBegun", 1, []byte(`{"transferId":"\ud800","amount":-0}`))
	f.Add("", 0, []byte(nil))

	f.Fuzz(func(t *testing.T, typ string, sv int, data []byte) {
		e, err := DecodeEvent(typ, sv, data)
		if err != nil {
			if e != nil {
				t.Fatalf("DecodeEvent returned both %#v and %v", e, err)
			}
			return
		}
		// Whatever decodes must encode again, and decode to the same event,
		// or a snapshot or a redrive would not reproduce it.
		typ2, sv2, data2, err := EncodeEvent(e)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", e, err)
		}
		if typ2 != typ || sv2 != SchemaVersions()[typ] {
			t.Fatalf("decoded as %s v%d, encodes as %s v%d", typ, sv, typ2, sv2)
		}
		e2, err := DecodeEvent(typ2, sv2, data2)
		if err != nil || !reflect.DeepEqual(e2, e) {
			t.Fatalf("re-decoding %s gave %#v, %v; want %#v", data2, e2, err, e)
		}
		_ = Evolve(Fold([]Event{AccountOpened{AccountID: "a"}}), e)
	})
}
