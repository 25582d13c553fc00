package projection

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/eventstore"
	"annals/internal/fanout"
)

// View is one read model fed by the projector. Each keeps its own
// per-stream positions and quarantine, so a poison
// event in one view does not stall another.
type View interface {
	Name() string
	// Apply applies one commit's events (one stream, consecutive versions).
	// It returns only errors worth a retry; poison is handled inside.
	Apply(ctx context.Context, commit []eventstore.Event) error
	// Quarantine stops the stream in the view, for a record that names it
	// but cannot be read.
	Quarantine(ctx context.Context, stream eventstore.StreamID, reason string) error
}

// Handler is the projector: it feeds each record of the events stream to
// every view.
type Handler struct {
	views []View
	dead  *DeadLetters
	log   *slog.Logger
}

// NewHandler returns the projector over views; dead receives the records
// whose envelope does not decode.
func NewHandler(dead *DeadLetters, log *slog.Logger, views ...View) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{views: views, dead: dead, log: log}
}

// Handle applies the batch's records in order. Once a record of a partition
// key (a stream) fails for a reason worth a retry, its sequence number is
// reported and the later records of that key in this batch are left alone,
// so that the stream's order holds; other keys go on. The event source
// mapping resends from the lowest reported sequence number, and what was
// already applied is then skipped as duplicates.
//
// A record whose envelope does not decode is poison: it is dead-lettered
// with its raw data, and the stream its partition key names (the fan-out
// uses the stream key) is quarantined in every view. A partition key that
// is not a stream key names no stream to quarantine: the record is then
// only dead-lettered and logged, and the redrive must find its stream from
// the letter.
func (h *Handler) Handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	start := time.Now()
	resp := events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}
	failed := map[string]bool{}
	var applied, held, poison int
	for _, r := range ev.Records {
		key, seq := r.Kinesis.PartitionKey, r.Kinesis.SequenceNumber
		if failed[key] {
			held++
			continue
		}
		var err error
		commit, derr := fanout.DecodeEnvelope(r.Kinesis.Data)
		if derr != nil {
			poison++
			err = h.reject(ctx, r, derr)
		} else {
			for _, v := range h.views {
				if err = v.Apply(ctx, commit); err != nil {
					h.log.WarnContext(ctx, "projection failed to apply a commit; the record will be retried",
						"view", v.Name(), "stream", commit[0].Stream.Key(), "version", commit[0].Version,
						"sequenceNumber", seq, "error", err.Error())
					break
				}
			}
		}
		if err != nil {
			failed[key] = true
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: seq})
			continue
		}
		applied++
	}
	level := slog.LevelInfo
	if len(resp.BatchItemFailures)+poison > 0 {
		level = slog.LevelWarn
	}
	h.log.Log(ctx, level, "projector", "records", len(ev.Records), "applied", applied,
		"failed", len(resp.BatchItemFailures), "held", held, "undecodable", poison,
		"ms", time.Since(start).Milliseconds())
	return resp, nil
}

// reject dead-letters a record whose envelope does not decode and
// quarantines the stream its partition key names, if any.
func (h *Handler) reject(ctx context.Context, r events.KinesisEventRecord, cause error) error {
	key, seq := r.Kinesis.PartitionKey, r.Kinesis.SequenceNumber
	reason := "envelope does not decode: " + cause.Error()
	l := DeadLetter{Reason: reason, Record: r.Kinesis.Data, PartitionKey: key, SequenceNumber: seq}
	stream, perr := eventstore.ParseStreamKey(key)
	if perr == nil {
		l.Stream = stream.Key()
	}
	if err := h.dead.Send(ctx, l); err != nil {
		return err
	}
	if perr != nil {
		h.log.ErrorContext(ctx, "projector dead-lettered a record that does not decode and names no stream; nothing quarantined",
			"partitionKey", key, "sequenceNumber", seq, "error", cause.Error())
		return nil
	}
	h.log.ErrorContext(ctx, "projector dead-lettered a record that does not decode",
		"stream", stream.Key(), "sequenceNumber", seq, "error", cause.Error())
	for _, v := range h.views {
		if err := v.Quarantine(ctx, stream, reason); err != nil {
			return err
		}
	}
	return nil
}
