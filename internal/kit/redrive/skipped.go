package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/fanout"
)

// Letter is one message of the fan-out's skipped-commits queue.
type Letter struct {
	MessageID string
	fanout.Skipped
	// Problem says why the message names no commit that can be read, when
	// it does not (then Skipped holds what could be read of it).
	Problem string
	// stream is Skipped.Stream parsed, when Problem is empty.
	stream eventstore.StreamID
}

// Stream is the stream of the commit the letter names; ok is false when it
// names none (Problem says why).
func (l Letter) Stream() (eventstore.StreamID, bool) { return l.stream, l.Problem == "" }

func (l Letter) String() string {
	if l.Problem != "" {
		return fmt.Sprintf("message %s: %s", l.MessageID, l.Problem)
	}
	return fmt.Sprintf("message %s: %s", l.MessageID, l.Skipped)
}

// readLetter reads a message's body.
func readLetter(m sqstypes.Message) Letter {
	l := Letter{MessageID: aws.ToString(m.MessageId)}
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &l.Skipped); err != nil {
		l.Problem = "not a letter of the fan-out: " + err.Error()
		return l
	}
	if l.Skipped.Stream == "" || l.Version < 1 {
		l.Problem = fmt.Sprintf("names no commit (the fan-out could not read the record's keys; find the record by its sequence number %q in the events table's stream, or the commit by --stream)", l.SequenceNumber)
		return l
	}
	s, err := eventstore.ParseStreamKey(l.Skipped.Stream)
	if err != nil {
		l.Problem = fmt.Sprintf("names no stream: %v", err)
		return l
	}
	l.stream = s
	return l
}

// ListSkipped returns every letter on the fan-out's skipped-commits queue,
// oldest receive first, and leaves the queue as it found it: it hides each
// letter for visibility seconds while it reads, so that it reads each
// once, then makes them all visible again. It never long-polls.
func ListSkipped(ctx context.Context, q SQS, url string, visibility int32) ([]Letter, error) {
	var out []Letter
	var held []sqstypes.Message
	err := receiveAll(ctx, q, url, visibility, func(m sqstypes.Message) error {
		held = append(held, m)
		out = append(out, readLetter(m))
		return nil
	})
	// Give them back even when the listing failed half way.
	var back []error
	for _, m := range held {
		if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
		}); err != nil {
			back = append(back, fmt.Errorf("make message %s visible again: %w", aws.ToString(m.MessageId), err))
		}
	}
	if err != nil || len(back) > 0 {
		return out, errors.Join(append([]error{err}, back...)...)
	}
	return out, nil
}

// RepublishedSkipped is what a RepublishSkipped did.
type RepublishedSkipped struct {
	Letters int // messages read
	Deleted int // letters whose commit is back on the events stream
	// Republished names each commit sent, "stream at first..last".
	Republished []string
	// Kept are the letters left on the queue, each with why: a commit the
	// events table still cannot give (it does not decode), one still over
	// the record limit, one the stream does not hold, or a message that
	// names no commit.
	Kept []string
	fanout.Published
}

// RepublishSkipped reads every letter on the fan-out's skipped-commits
// queue once, reads the commit each names from the events table (whole,
// through the store's own operations) and puts it on the events stream
// through pub, the fan-out's own encoder and batching. A letter is deleted
// only once its commit was published; a commit named by several letters
// is published once and all of them are deleted. The letters kept stay
// hidden for visibility seconds, so that one run reads each once, and come
// back for the next. Every consumer skips what it already applied, so a
// commit that did reach them is harmless to send again.
func RepublishSkipped(ctx context.Context, q SQS, url string, visibility int32, events Commits, pub Publisher) (RepublishedSkipped, error) {
	var res RepublishedSkipped
	done := map[string]error{} // by "stream at version": nil once sent
	err := receiveAll(ctx, q, url, visibility, func(m sqstypes.Message) error {
		res.Letters++
		if err := ctx.Err(); err != nil {
			return err
		}
		l := readLetter(m)
		stream, ok := l.Stream()
		if !ok {
			res.Kept = append(res.Kept, l.String())
			return nil
		}
		key := fmt.Sprintf("%s at %d", stream, l.Version)
		sent, seen := done[key]
		if !seen {
			sent = republishOne(ctx, events, pub, stream, l.Version, &res)
			if err := ctx.Err(); err != nil {
				return err
			}
			done[key] = sent
		}
		if sent != nil {
			res.Kept = append(res.Kept, fmt.Sprintf("message %s of %s: %v", l.MessageID, key, sent))
			return nil
		}
		if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			return fmt.Errorf("delete letter %s of %s from %s: %w", l.MessageID, key, url, err)
		}
		res.Deleted++
		return nil
	})
	slices.Sort(res.Kept)
	return res, err
}

// republishOne reads the commit holding version v and publishes it.
func republishOne(ctx context.Context, events Commits, pub Publisher, stream eventstore.StreamID, v int64, res *RepublishedSkipped) error {
	commits, err := events.ReadCommits(ctx, stream, v, v)
	if err != nil {
		return err
	}
	if len(commits) == 0 {
		return fmt.Errorf("the events table holds no version %d of it: %w", v, eventstore.ErrNotFound)
	}
	p, err := pub.Publish(ctx, commits)
	res.Requests += p.Requests
	res.Retries += p.Retries
	res.Sent += p.Sent
	if err != nil {
		return err
	}
	c := commits[0]
	res.Republished = append(res.Republished, fmt.Sprintf("%s at %d..%d", stream, c[0].Version, c[len(c)-1].Version))
	return nil
}
