package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/kit/fanout"
	"annals/internal/kit/testlog"
)

// letterBox is the skipped-commits queue in memory; while down is set it
// refuses every letter.
type letterBox struct {
	mu     sync.Mutex
	bodies []string
	down   error
}

func (b *letterBox) Send(_ context.Context, body string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down != nil {
		return b.down
	}
	b.bodies = append(b.bodies, body)
	return nil
}

func (b *letterBox) letters(t testing.TB) []fanout.Skipped {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []fanout.Skipped
	for _, body := range b.bodies {
		var l fanout.Skipped
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("letter %q: %v", body, err)
		}
		out = append(out, l)
	}
	return out
}

func skippingHandler(t testing.TB, k fanout.Kinesis, q fanout.Queue) (*fanout.Handler, *testlog.Buffer) {
	logs := &testlog.Buffer{}
	return fanout.New(fanout.Config{
		Kinesis: k,
		Stream:  "events",
		Skipped: q,
		Log:     slog.New(slog.NewJSONHandler(logs, nil)),
		Margin:  50 * time.Millisecond,
		Backoff: func(int) time.Duration { return time.Millisecond },
	}), logs
}

// errorLine returns the ERROR line about the record with this sequence
// number, or fails the test.
func errorLine(t testing.TB, logs *testlog.Buffer, seq string) map[string]any {
	t.Helper()
	for _, l := range lines(t, logs) {
		if l["level"] == "ERROR" && l["sequenceNumber"] == seq {
			return l
		}
	}
	t.Fatalf("no ERROR line with sequence number %s in %v", seq, lines(t, logs))
	return nil
}

// A commit that does not decode is skipped, so that the commits behind it
// go on, and leaves a letter naming it (stream, first version, why) on the
// skipped-commits queue: without its payload, which is what is broken.
func TestUndecodableCommitLeavesALetterNamingIt(t *testing.T) {
	store, items := newStore()
	appendCommits(t, store, 2)
	commits := items.commits()
	ev := inserts(t, []eventstore.Item{storetest.Undecodable(commits[0]), commits[1]})
	k := &fakeKinesis{t: t}
	box := &letterBox{}
	h, logs := skippingHandler(t, k, box)
	resp, err := h.Handle(deadline(t, 5*time.Second), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; a skipped commit must not block the batch", resp, err)
	}
	if got := k.storedKeys(); !slices.Equal(got, []string{"acme#account#a0001"}) {
		t.Errorf("sent %v, want the good commit only", got)
	}
	letters := box.letters(t)
	if len(letters) != 1 {
		t.Fatalf("%d letters, want 1", len(letters))
	}
	l := letters[0]
	if l.Stream != "acme#account#a0000" || l.Version != 1 || l.Cause != fanout.CauseUndecodable ||
		l.SequenceNumber != ev.Records[0].Change.SequenceNumber || !strings.Contains(l.Reason, "no events") {
		t.Errorf("letter %+v, want acme#account#a0000 at 1, undecodable, with the record's sequence number and why", l)
	}
	if line := errorLine(t, logs, ev.Records[0].Change.SequenceNumber); line["stream"] != l.Stream || line["version"] != 1.0 || line["cause"] != fanout.CauseUndecodable {
		t.Errorf("ERROR line %v does not name the commit", line)
	}
	if sum := summary(t, logs); sum["poison"] != 1.0 || sum["recorded"] != 1.0 || sum["level"] != "WARN" {
		t.Errorf("summary %v, want 1 poison, 1 recorded, at WARN", sum)
	}
}

// A commit whose envelope is over Kinesis' record limit is skipped too,
// and its letter is small: the stream and version find the commit.
func TestOversizeCommitLeavesALetterNamingIt(t *testing.T) {
	store, items := newStore()
	// Many small events whose metadata each CloudEvent repeats: the item
	// fits DynamoDB's 400 KB, the envelope does not fit Kinesis' 1 MiB.
	long := strings.Repeat("m", 300)
	var evs []eventstore.NewEvent
	for range 1200 {
		evs = append(evs, event("T", `{}`))
	}
	meta := eventstore.Metadata{CommandID: long, CorrelationID: long, CausationID: long, Actor: long}
	c, err := store.Append(context.Background(), eventstore.NewStream(stream(t, "big")), evs, meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(context.Background(), c.Head, []eventstore.NewEvent{event("T", `{}`)}, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	appendCommits(t, store, 1)
	k := &fakeKinesis{t: t}
	box := &letterBox{}
	h, logs := skippingHandler(t, k, box)
	ev := inserts(t, items.commits())
	resp, err := h.Handle(deadline(t, 5*time.Second), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	if got := k.storedKeys(); !slices.Equal(got, []string{"acme#account#big", "acme#account#a0000"}) {
		t.Errorf("sent %v, want the two small commits", got)
	}
	letters := box.letters(t)
	if len(letters) != 1 {
		t.Fatalf("%d letters, want 1", len(letters))
	}
	if l := letters[0]; l.Stream != "acme#account#big" || l.Version != 1 || l.Cause != fanout.CauseOversize || !strings.Contains(l.Reason, "over the") {
		t.Errorf("letter %+v, want acme#account#big at 1, oversize", l)
	}
	if n := len(box.bodies[0]); n > 1024 {
		t.Errorf("a letter of %d bytes: it carries more than where the commit is", n)
	}
	line := errorLine(t, logs, ev.Records[0].Change.SequenceNumber)
	if line["stream"] != "acme#account#big" || line["bytes"].(float64) <= float64(fanout.MaxRecordBytes) {
		t.Errorf("ERROR line %v", line)
	}
	if sum := summary(t, logs); sum["oversize"] != 1.0 || sum["recorded"] != 1.0 {
		t.Errorf("summary %v, want 1 oversize, recorded", sum)
	}
}

// A skipped commit whose letter cannot be written is never dropped: the
// batch stops at it, so that the event source mapping sends it again (and
// the iterator age shows it), and the commits before it are sent. Without
// a queue at all it is the same.
func TestUnrecordedSkipStopsTheBatchAtIt(t *testing.T) {
	store, items := newStore()
	appendCommits(t, store, 4)
	commits := items.commits()
	ev := inserts(t, []eventstore.Item{commits[0], storetest.Undecodable(commits[1]), commits[2], storetest.Undecodable(commits[3])})
	for name, q := range map[string]fanout.Queue{
		"queue down": &letterBox{down: errors.New("queue unreachable")},
		"no queue":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			k := &fakeKinesis{t: t}
			h, logs := skippingHandler(t, k, q)
			resp, err := h.Handle(deadline(t, 5*time.Second), ev)
			if err != nil {
				t.Fatal(err)
			}
			want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[1].Change.SequenceNumber}}
			if !reflect.DeepEqual(resp.BatchItemFailures, want) {
				t.Errorf("failures %+v, want %+v (the first skipped commit)", resp.BatchItemFailures, want)
			}
			// What comes after the stop is sent again with it: only the
			// commit before it goes now.
			if got := k.storedKeys(); !slices.Equal(got, []string{"acme#account#a0000"}) {
				t.Errorf("sent %v, want the commit before the stop", got)
			}
			if line := errorLine(t, logs, ev.Records[1].Change.SequenceNumber); line["stream"] != "acme#account#a0001" {
				t.Errorf("ERROR line %v does not name the commit", line)
			}
			if sum := summary(t, logs); sum["unrecorded"] != 2.0 || sum["recorded"] != 0.0 {
				t.Errorf("summary %v, want both skipped commits unrecorded", sum)
			}
		})
	}
}
