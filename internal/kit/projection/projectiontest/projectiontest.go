// Package projectiontest feeds a projector in tests as Lambda would: an
// events table in memory with deterministic ids and clock, the Kinesis
// records the fan-out makes of its commits, and the handler's answer read
// as the sequence numbers it reports failed.
package projectiontest

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/testclock"
)

// NewEvents is an events table in memory whose ids count up (id-000001,
// ...) and whose clock moves a second before each commit.
func NewEvents() *eventstore.Store {
	n := 0
	return eventstore.New(eventstore.NewMemoryBackend(),
		eventstore.WithIDs(func() string { n++; return fmt.Sprintf("id-%06d", n) }),
		eventstore.WithClock(testclock.New(testclock.Start, time.Second).Now))
}

// Record is the Kinesis record the fan-out makes of a commit's events, at
// sequence number seq.
func Record(t testing.TB, seq int, commit []eventstore.Event) events.KinesisEventRecord {
	t.Helper()
	data, err := envelope.Encode(commit)
	if err != nil {
		t.Fatal(err)
	}
	return RawRecord(seq, commit[0].Stream.Key(), data)
}

// RawRecord is a Kinesis record of data under the partition key, decodable
// or not, at sequence number seq.
func RawRecord(seq int, key string, data []byte) events.KinesisEventRecord {
	s := fmt.Sprintf("4959%020d", seq)
	return events.KinesisEventRecord{
		EventID:   "shardId-000000000000:" + s,
		EventName: "aws:kinesis:record",
		Kinesis:   events.KinesisRecord{PartitionKey: key, SequenceNumber: s, Data: data, KinesisSchemaVersion: "1.0"},
	}
}

// Failures hands the records to h as one batch and returns the sequence
// numbers it reports failed. An error, or a nil list (Lambda wants an
// empty one), fails the test.
func Failures(t testing.TB, h *projection.Handler, records ...events.KinesisEventRecord) []string {
	t.Helper()
	resp, err := h.Handle(t.Context(), events.KinesisEvent{Records: records})
	if err != nil {
		t.Fatal(err)
	}
	if resp.BatchItemFailures == nil {
		t.Fatal("BatchItemFailures is nil; Lambda wants an empty list")
	}
	var seqs []string
	for _, b := range resp.BatchItemFailures {
		seqs = append(seqs, b.ItemIdentifier)
	}
	return seqs
}
