package projection

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/eventstore"
	"annals/internal/fanout"
)

// SQS is the part of the SQS client the projector uses.
type SQS interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
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
}

// DeadLetters sends dead letters to one queue.
type DeadLetters struct {
	sqs SQS
	url string
}

// NewDeadLetters returns a sender to the queue at url.
func NewDeadLetters(c SQS, url string) *DeadLetters { return &DeadLetters{sqs: c, url: url} }

// Send puts one dead letter on the queue.
func (d *DeadLetters) Send(ctx context.Context, l DeadLetter) error {
	body, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("dead letter of %s %d: %w", l.Stream, l.Version, err)
	}
	if _, err := d.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(d.url), MessageBody: aws.String(string(body))}); err != nil {
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
	if b, err := fanout.EncodeEnvelope([]eventstore.Event{e}); err == nil && json.Valid(b) {
		l.Event = b
	}
	return l
}
