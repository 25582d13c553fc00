package redrive

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
)

// SQS is the part of the SQS client that reads the dead-letter queues.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Drained is what a pass over the dead-letter queue did.
type Drained struct {
	Letters int // messages read
	Deleted int // letters whose stream healed in their view(s)
	// Kept are the letters left on the queue, each with why: a stream
	// still quarantined, or a message that names no stream (a batch the
	// event source mapping gave up on, a record whose partition key is
	// not a stream key), which needs a person.
	Kept   []string
	Lifted map[string][]Lifted // by stream key
}

// emptyReceives is how many empty answers in a row end a drain: short
// polls sample the queue's servers, so one empty answer does not prove
// the queue empty.
const emptyReceives = 3

// receiveAll hands each message on the queue to each, hiding it for
// visibility seconds so that one pass meets it once, until emptyReceives
// short polls in a row find nothing; an error of each ends the pass.
func receiveAll(ctx context.Context, q SQS, url string, visibility int32, each func(sqstypes.Message) error) error {
	for empty := 0; empty < emptyReceives; {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: visibility, WaitTimeSeconds: 0,
		})
		if err != nil {
			return fmt.Errorf("receive from %s: %w", url, err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			if err := each(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// Drain reads every letter on the queue once and lifts the stream each
// names, in the letter's view or, for a letter of no view (an envelope that
// did not decode quarantines the stream in every view), in all of them. A
// stream is lifted once per drain however many letters name it. A letter
// is deleted only when its stream healed in the view(s) it names; the
// others stay hidden for visibility seconds, so that one drain reads each
// once, then come back for the next. It never long-polls.
func Drain(ctx context.Context, q SQS, url string, visibility int32, views ...Lifter) (Drained, error) {
	res := Drained{Lifted: map[string][]Lifted{}}
	byName := map[string]Lifter{}
	for _, v := range views {
		byName[v.Name()] = v
	}
	done := map[string]Lifted{} // stream key and view name
	err := receiveAll(ctx, q, url, visibility, func(m sqstypes.Message) error {
		res.Letters++
		id := aws.ToString(m.MessageId)
		var l projection.DeadLetter
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &l); err != nil || l.Stream == "" {
			res.Kept = append(res.Kept, fmt.Sprintf("message %s names no stream; read it and redrive by --stream", id))
			return nil
		}
		stream, err := eventstore.ParseStreamKey(l.Stream)
		if err != nil {
			res.Kept = append(res.Kept, fmt.Sprintf("message %s: %v", id, err))
			return nil
		}
		targets := views
		if l.View != "" {
			v, ok := byName[l.View]
			if !ok {
				res.Kept = append(res.Kept, fmt.Sprintf("message %s of %s is for the %q view, which this redrive does not hold", id, l.Stream, l.View))
				return nil
			}
			targets = []Lifter{v}
		}
		// A letter of no view is for every view that keeps the
		// stream's kind of stream, not for the others.
		targets = slices.DeleteFunc(slices.Clone(targets), func(v Lifter) bool { return !v.Holds(stream) })
		if len(targets) == 0 {
			res.Kept = append(res.Kept, fmt.Sprintf("message %s of %s: no view of this redrive keeps %q streams", id, l.Stream, stream.Category))
			return nil
		}
		healed := true
		for _, v := range targets {
			key := l.Stream + "\x00" + v.Name()
			lifted, ok := done[key]
			if !ok {
				got, err := Lift(ctx, stream, v)
				if err != nil {
					return fmt.Errorf("letter %s: %w", id, err)
				}
				lifted = got[0]
				done[key] = lifted
				res.Lifted[l.Stream] = append(res.Lifted[l.Stream], lifted)
			}
			healed = healed && lifted.Healed()
		}
		if !healed {
			res.Kept = append(res.Kept, fmt.Sprintf("message %s of %s: the stream is still quarantined", id, l.Stream))
			return nil
		}
		if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			return fmt.Errorf("delete letter %s of %s from %s: %w", id, l.Stream, url, err)
		}
		res.Deleted++
		return nil
	})
	slices.Sort(res.Kept)
	return res, err
}
