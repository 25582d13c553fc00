package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
)

// Queue is where dead letters go: in AWS, the projector's SQS dead-letter
// queue (sqsqueue.Queue).
type Queue interface {
	Send(ctx context.Context, body string) error
}

// DeadLetter is the body of a dead-letter message: enough to find, read and
// redrive what a view could not apply.
type DeadLetter struct {
	View    string `json:"view,omitempty"`
	Stream  string `json:"stream,omitempty"`  // the stream key, when known
	Version int64  `json:"version,omitempty"` // the poison event's version, when known
	Reason  string `json:"reason"`
	// Event is the poison event as the public envelope of that one event.
	Event json.RawMessage `json:"event,omitempty"`
	// Record is the raw Kinesis record data of an envelope that did not
	// decode, with its partition key and sequence number.
	Record         []byte `json:"record,omitempty"`
	PartitionKey   string `json:"partitionKey,omitempty"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	// Omitted says what was left out to fit SQS's message size: the event
	// or the record, which the stream and version or the sequence number
	// still find.
	Omitted string `json:"omitted,omitempty"`
}

// maxLetterBytes keeps a dead letter within SQS's 256 KiB message limit,
// with room to spare.
const maxLetterBytes = 200 << 10

// DeadLetters sends dead letters to one queue.
type DeadLetters struct {
	queue Queue
}

// NewDeadLetters returns a sender to q.
func NewDeadLetters(q Queue) *DeadLetters { return &DeadLetters{queue: q} }

// Send puts one dead letter on the queue.
func (d *DeadLetters) Send(ctx context.Context, l DeadLetter) error {
	body, err := json.Marshal(l)
	if err == nil && len(body) > maxLetterBytes {
		// A letter SQS refuses would be retried until the batch is
		// given up: send what finds the poison instead of the poison.
		l.Omitted = fmt.Sprintf("event and record (%d bytes as a letter)", len(body))
		l.Event, l.Record = nil, nil
		if len(l.Reason) > 4<<10 {
			l.Reason = l.Reason[:4<<10] + "..."
		}
		body, err = json.Marshal(l)
	}
	if err != nil {
		return fmt.Errorf("dead letter of %s %d: %w", l.Stream, l.Version, err)
	}
	if err := d.queue.Send(ctx, string(body)); err != nil {
		return fmt.Errorf("send dead letter of %s %d: %w", l.Stream, l.Version, err)
	}
	return nil
}

// eventLetter is the dead letter of one event a view could not apply.
func eventLetter(view string, e eventstore.Event, reason string) DeadLetter {
	l := DeadLetter{View: view, Stream: e.Stream.Key(), Version: e.Version, Reason: reason}
	if e.ID == "" {
		return l // a version missing from the events table: nothing to carry
	}
	if b, err := envelope.Encode([]eventstore.Event{e}); err == nil && json.Valid(b) {
		l.Event = b
	}
	return l
}

// LetterBox is a Queue in memory: it keeps the dead letters sent to it,
// after passing each on to Next when there is one. A rebuild reports from
// it the streams it quarantined; tests read what the views sent.
type LetterBox struct {
	Next Queue

	mu      sync.Mutex
	letters []DeadLetter
}

// Send keeps a dead letter, once Next (if any) has taken it.
func (b *LetterBox) Send(ctx context.Context, body string) error {
	var l DeadLetter
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	if b.Next != nil {
		if err := b.Next.Send(ctx, body); err != nil {
			return err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.letters = append(b.letters, l)
	return nil
}

// Letters returns the dead letters kept, in the order they were sent.
func (b *LetterBox) Letters() []DeadLetter {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.letters)
}
