package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Queue is where the fan-out records the commits it skipped: in AWS, its
// own SQS queue (sqsqueue.Queue).
type Queue interface {
	Send(ctx context.Context, body string) error
}

// Why a commit was skipped, as Skipped.Cause says it.
const (
	// CauseUndecodable: the stream record's commit does not decode (or its
	// envelope does not encode). Fixed by a fan-out and store that read
	// it, or by restoring the item.
	CauseUndecodable = "undecodable"
	// CauseOversize: the commit's envelope is over Kinesis' record limit.
	CauseOversize = "oversize"
)

// Skipped is the body of a letter on the skipped-commits queue: where in
// the events table a commit the fan-out could not send is, not the commit
// itself, which may be what is broken or too large. A redrive reads the
// commit from there and republishes it once the cause is fixed.
type Skipped struct {
	// Stream is the commit's stream key and Version its first version:
	// its key in the events table. Stream is empty when the record's keys
	// did not say (then SequenceNumber alone finds it).
	Stream  string `json:"stream"`
	Version int64  `json:"version"`
	Cause   string `json:"cause"` // CauseUndecodable or CauseOversize
	Reason  string `json:"reason"`
	// SequenceNumber is the table stream record's.
	SequenceNumber string `json:"sequenceNumber"`
}

func (l Skipped) String() string {
	return fmt.Sprintf("%s at %d (%s: %s)", l.Stream, l.Version, l.Cause, l.Reason)
}

// maxReasonBytes keeps a letter small whatever the error says.
const maxReasonBytes = 4 << 10

// skip is a record the fan-out skips, with its letter.
type skip struct {
	index int // in the batch
	seq   string
	// letter is its body on the skipped-commits queue.
	letter Skipped
}

var errNoQueue = errors.New("no skipped-commits queue is configured")

// record puts a letter on the skipped-commits queue for each skip, in
// batch order, and returns the first it could not record: the batch stops
// there, and the skips after it are not tried (they come again with it).
func (h *Handler) record(ctx context.Context, skips []skip, t *tally) *skip {
	if len(skips) == 0 {
		return nil
	}
	ctx, cancel := h.bounded(ctx)
	defer cancel()
	for i, s := range skips {
		err := errNoQueue
		if h.skipped != nil {
			err = h.send1(ctx, s.letter)
		}
		if err != nil {
			t.unrecorded += len(skips) - i
			h.log.ErrorContext(ctx, "fanout could not record a commit it skips; the batch resumes at it",
				"cause", s.letter.Cause, "sequenceNumber", s.seq, "stream", s.letter.Stream, "version", s.letter.Version,
				"error", err.Error())
			return &skips[i]
		}
		t.recorded++
	}
	return nil
}

// send1 sends one letter.
func (h *Handler) send1(ctx context.Context, l Skipped) error {
	if len(l.Reason) > maxReasonBytes {
		l.Reason = l.Reason[:maxReasonBytes] + "..."
	}
	body, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("letter of %s at %d: %w", l.Stream, l.Version, err)
	}
	if err := h.skipped.Send(ctx, string(body)); err != nil {
		return fmt.Errorf("record the skip of %s at %d: %w", l.Stream, l.Version, err)
	}
	return nil
}
