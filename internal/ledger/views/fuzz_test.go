package views_test

import (
	"testing"
)

// Whatever a record holds, the projector neither panics nor retries it:
// outside input that does not decode is poison, not an outage.
func FuzzHandleRecord(f *testing.F) {
	events := newEvents()
	a := newAccount(f, "a1")
	c := a.open(f, events, "alice")
	good := record(f, 1, c)
	f.Add(good.Kinesis.PartitionKey, good.Kinesis.Data)
	f.Add("acme#account#a1", []byte(`[{"specversion":"1.0"}]`))
	f.Add("", []byte(`[]`))
	f.Add("x#y", []byte(`null`))
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		fx := newFixture(t)
		if failed := fx.handle(t, batch(rawRecord(1, key, data))); len(failed) != 0 {
			t.Fatalf("record %q under %q reported as failed: %v", data, key, failed)
		}
	})
}
