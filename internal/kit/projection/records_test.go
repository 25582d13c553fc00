package projection_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/projection/projectiontest"
)

// A failure worth a retry holds only its partition key: the sequence number
// of the key's first record in the batch is reported (even when that
// record itself went through), the key's later records are left alone
// (a record behind it that does not decode is neither dead-lettered nor
// quarantines), other keys flow, and nothing is dead-lettered. The retry
// from the reported record converges.
func TestInfrastructureErrorHoldsOnlyItsKey(t *testing.T) {
	cases := []struct {
		name  string
		write error // what the notes table answers a's writes
		read  error // what the events table answers
	}{
		{name: "the view table throttles", write: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down"}},
		{name: "the view table times out", write: fmt.Errorf("put: %w", context.DeadlineExceeded)},
		{name: "another writer keeps moving the position", write: projection.ErrStale},
		{name: "the events table cannot be read to fill a gap", read: &smithy.GenericAPIError{Code: "InternalServerError", Message: "try again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a, b := newNotebook(t, notebooktest.Category, "a"), newNotebook(t, notebooktest.Category, "b")
			a1 := a.write(t, f.events, "n1")
			a.write(t, f.events, "n2") // never delivered: read to fill a gap
			a3, a4 := a.write(t, f.events, "n3"), a.write(t, f.events, "n4")
			b1, b2 := b.write(t, f.events, "m1"), b.write(t, f.events, "m2")
			c := newNotebook(t, notebooktest.Category, "c")
			c1 := c.write(t, f.events, "k1")
			if failed := f.handle(t, record(t, 1, a1)); len(failed) != 0 {
				t.Fatalf("failures %v", failed)
			}
			f.notes.SetFail(func(s eventstore.StreamID, _ projection.Position) error {
				if s == a.Stream {
					return tc.write
				}
				return nil
			})
			f.reader.err = tc.read

			// a1 is a duplicate that goes through; a3 needs version 2
			// from the events table and its write, and fails. b's key
			// comes before a's, c's after.
			ra1 := record(t, 3, a1)
			batch := []events.KinesisEventRecord{record(t, 2, b1), ra1, record(t, 4, c1), record(t, 5, a3),
				projectiontest.RawRecord(6, a.Stream.Key(), []byte(`not an envelope`)), record(t, 7, a4), record(t, 8, b2)}
			if failed := f.handle(t, batch...); !slices.Equal(failed, []string{ra1.Kinesis.SequenceNumber}) {
				t.Fatalf("failures %v, want a's first record only, %s", failed, ra1.Kinesis.SequenceNumber)
			}
			if got, want := f.describe(a.Stream), "notes [n1] v1 |"; !strings.HasPrefix(got, want) {
				t.Errorf("a: %s, want it where it was: %s...", got, want)
			}
			for s, want := range map[eventstore.StreamID]string{b.Stream: "notes [m1 m2] v2 | count 2 v2", c.Stream: "notes [k1] v1 | count 1 v1"} {
				if got := f.describe(s); got != want {
					t.Errorf("%s: %s, want %s", s.ID, got, want)
				}
			}
			if len(f.box.Letters()) != 0 {
				t.Errorf("dead letters %q, want none: an outage is not poison, and a's later records wait", f.letters())
			}

			// The event source mapping resends from the reported record.
			f.notes.SetFail(nil)
			f.reader.err = nil
			if failed := f.handle(t, batch[1:]...); len(failed) != 0 {
				t.Fatalf("failures %v on the retry", failed)
			}
			if got, want := f.describe(a.Stream), "notes [n1 n2 n3] v3 q4 | count 3 v3 q4"; got != want {
				t.Errorf("a after the retry: %s, want %s", got, want)
			}
			if got, want := f.letters(), []string{"record a"}; !slices.Equal(got, want) {
				t.Errorf("dead letters %q, want %q", got, want)
			}
		})
	}
}

// A dead-letter queue that cannot be reached is an infrastructure error:
// the poison's record is retried, and nothing is quarantined without its
// letter. Once the queue is back, the retry dead-letters and quarantines.
func TestUnreachableDeadLetterQueueRetries(t *testing.T) {
	cases := []struct {
		name string
		// record makes the poison record, sequence number 1, of a
		// notebook whose first commit is a note without a text.
		record func(t *testing.T, a *notebook) events.KinesisEventRecord
		want   string // where a stands once the letter is sent
	}{
		{
			name:   "an event a view cannot fold",
			record: func(t *testing.T, a *notebook) events.KinesisEventRecord { return record(t, 1, a.Commits[0]) },
			want:   "notes [] v0 q1 | count 1 v1",
		},
		{
			name: "a record that does not decode",
			record: func(_ *testing.T, a *notebook) events.KinesisEventRecord {
				return projectiontest.RawRecord(1, a.Stream.Key(), []byte(`[{}]`))
			},
			want: "notes [] v0 q1 | count 0 v0 q1",
		},
		{
			name: "a record that does not decode and names no stream",
			record: func(*testing.T, *notebook) events.KinesisEventRecord {
				return projectiontest.RawRecord(1, "no-stream-here", []byte(`[{}]`))
			},
			want: "notes none | count none",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a := newNotebook(t, notebooktest.Category, "a")
			a.write(t, f.events, "bad")
			r := tc.record(t, a)
			f.box.Next = unreachable{}
			if failed := f.handle(t, r); !slices.Equal(failed, []string{r.Kinesis.SequenceNumber}) {
				t.Fatalf("failures %v, want the poison's record retried", failed)
			}
			if _, found := f.notes.Get(a.Stream); found {
				t.Errorf("a: %s, want the notes view untouched without a letter", f.describe(a.Stream))
			}

			f.box.Next = nil
			if failed := f.handle(t, r); len(failed) != 0 {
				t.Fatalf("failures %v once the queue is back", failed)
			}
			if got := f.describe(a.Stream); got != tc.want {
				t.Errorf("a: %s, want %s", got, tc.want)
			}
			if len(f.box.Letters()) != 1 {
				t.Errorf("dead letters %q, want one", f.letters())
			}
		})
	}
}

// A record whose envelope does not decode is dead-lettered with its raw
// data, partition key and sequence number, and quarantines the stream its
// partition key names in every view, at its next version, after the
// records before it are applied; what follows on that stream is skipped.
// A partition key that names no stream quarantines nothing, and says so in
// the log; a stream of another category is named in the letter but is no
// view's.
func TestUndecodableEnvelopeQuarantinesItsStreamInEveryView(t *testing.T) {
	f := newFixture(t)
	a, b := newNotebook(t, notebooktest.Category, "a"), newNotebook(t, notebooktest.Category, "b")
	a1, a2 := a.write(t, f.events, "n1"), a.write(t, f.events, "n2")
	b1 := b.write(t, f.events, "m1")
	x := notebooktest.StreamID(t, "diary", "x")
	garbage := []byte(`{"not":"an envelope"}`)
	batch := []events.KinesisEventRecord{record(t, 1, a1), projectiontest.RawRecord(2, a.Stream.Key(), garbage), record(t, 3, a2),
		projectiontest.RawRecord(4, "no-stream-here", garbage), record(t, 5, b1), projectiontest.RawRecord(6, x.Key(), garbage)}

	if failed := f.handle(t, batch...); len(failed) != 0 {
		t.Fatalf("failures %v, want none: a record that does not decode is poison", failed)
	}
	for s, want := range map[eventstore.StreamID]string{
		a.Stream: "notes [n1] v1 q2 | count 1 v1 q2",
		b.Stream: "notes [m1] v1 | count 1 v1",
		x:        "notes none | count none",
	} {
		if got := f.describe(s); got != want {
			t.Errorf("%s: %s, want %s", s.ID, got, want)
		}
	}
	letters := f.box.Letters()
	if len(letters) != 3 {
		t.Fatalf("dead letters %q, want one per undecodable record", f.letters())
	}
	for i, want := range []struct{ stream, key, seq string }{
		{a.Stream.Key(), a.Stream.Key(), batch[1].Kinesis.SequenceNumber},
		{"", "no-stream-here", batch[3].Kinesis.SequenceNumber},
		{x.Key(), x.Key(), batch[5].Kinesis.SequenceNumber},
	} {
		l := letters[i]
		if l.Stream != want.stream || l.PartitionKey != want.key || l.SequenceNumber != want.seq ||
			string(l.Record) != string(garbage) || l.View != "" || !strings.Contains(l.Reason, "envelope does not decode") {
			t.Errorf("dead letter %d = %+v, want stream %q, key %q, sequence number %s and the raw record", i, l, want.stream, want.key, want.seq)
		}
	}
	if n, _ := f.notes.Get(a.Stream); n.Pos.Quarantine == nil || n.Pos.Quarantine.Reason != letters[0].Reason {
		t.Errorf("a's quarantine %+v, want the letter's reason %q", n.Pos.Quarantine, letters[0].Reason)
	}
	if !f.logs.Contains("names no stream") {
		t.Errorf("no log of the record that names no stream:\n%s", f.logs)
	}
}
