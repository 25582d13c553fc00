package projection_test

import (
	"testing"

	"annals/internal/kit/envelope"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/projection/projectiontest"
)

// Whatever a record holds, the projector neither panics nor reports it as
// failed (outside input that does not decode is poison, not an outage), and
// loses nothing silently: a record that does not decode is dead-lettered,
// and one of a notebook stream is applied or dead-lettered.
func FuzzHandleRecord(f *testing.F) {
	store := projectiontest.NewEvents()
	a := newNotebook(f, notebooktest.Category, "a")
	good := record(f, 1, a.write(f, store, "n1 rename"))
	gap := record(f, 2, a.write(f, store, "n2"))
	poison := record(f, 3, newNotebook(f, notebooktest.Category, "b").write(f, store, "bad"))
	other := record(f, 4, newNotebook(f, "diary", "x").write(f, store, "n1"))
	for _, r := range []struct {
		key  string
		data []byte
	}{
		{good.Kinesis.PartitionKey, good.Kinesis.Data},
		{gap.Kinesis.PartitionKey, gap.Kinesis.Data},
		{poison.Kinesis.PartitionKey, poison.Kinesis.Data},
		{other.Kinesis.PartitionKey, other.Kinesis.Data},
		{"no-stream-here", good.Kinesis.Data},
		{"acme#notebook#a", []byte(`[{"specversion":"1.0"}]`)},
		{"", []byte(`[]`)},
		{"x#y", []byte(`null`)},
	} {
		f.Add(r.key, r.data)
	}
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		fx := newFixture(t)
		if failed := fx.handle(t, projectiontest.RawRecord(1, key, data)); len(failed) != 0 {
			t.Fatalf("record %q under %q reported as failed: %v", data, key, failed)
		}
		letters := len(fx.box.Letters())
		evs, err := envelope.Decode(data)
		switch {
		case err != nil:
			if letters != 1 {
				t.Fatalf("record %q does not decode (%v) and left %d dead letters, want 1", data, err, letters)
			}
		case evs[0].Stream.Category == notebooktest.Category:
			last := evs[len(evs)-1]
			if r, _ := fx.notes.Get(last.Stream); letters == 0 && (r.Pos.Version != last.Version || r.Pos.Quarantine != nil) {
				t.Fatalf("record %q of %s up to %d neither applied (the notes view is at %+v) nor dead-lettered", data, last.Stream, last.Version, r.Pos)
			}
		default:
			if letters != 0 || fx.describe(evs[0].Stream) != "notes none | count none" {
				t.Fatalf("record %q of another category touched the views: %s, %q", data, fx.describe(evs[0].Stream), fx.letters())
			}
		}
	})
}
