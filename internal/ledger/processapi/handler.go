// Package processapi feeds the events stream to the transfers process
// manager: the TransfersFunction's Kinesis handler.
package processapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/app"
)

// Handler is the process manager's Lambda: it reads the events stream and
// drives every transfer whose stream a record names.
type Handler struct {
	manager *app.Manager
	log     *slog.Logger
}

// NewHandler returns the Kinesis handler over a manager.
func NewHandler(m *app.Manager, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{manager: m, log: log}
}

// Handle drives, once per batch, each transfer that a record's partition
// key names (the fan-out's partition key is the stream key); records of
// other streams are not its business. The record's events are not read:
// the manager acts on the transfer's stream as it is, which makes a
// duplicate, a late record or one whose data does not decode harmless.
//
// A transfer that could not be driven (a conflict that kept winning, a
// throttled or failed read or write) reports the sequence number of its
// first record in the batch, so the event source mapping delivers it
// again; after its bounded retries the batch goes to the dead-letter
// queue, and the sweeper finds the transfer still pending.
func (h *Handler) Handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	start := time.Now()
	resp := events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}
	seen := map[string]bool{}
	driven := 0
	for _, r := range ev.Records {
		key := r.Kinesis.PartitionKey
		if seen[key] {
			continue
		}
		seen[key] = true
		stream, err := eventstore.ParseStreamKey(key)
		if err != nil || stream.Category != app.TransferCategory {
			continue
		}
		t, err := h.manager.Drive(ctx, stream)
		if err != nil {
			h.log.WarnContext(ctx, "transfer not driven; the record will be retried",
				"stream", key, "sequenceNumber", r.Kinesis.SequenceNumber, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
			continue
		}
		driven++
		h.log.DebugContext(ctx, "transfer driven", "stream", key, "status", string(t.Status), "reason", t.Reason)
	}
	level := slog.LevelInfo
	if len(resp.BatchItemFailures) > 0 {
		level = slog.LevelWarn
	}
	h.log.Log(ctx, level, "transfers", "records", len(ev.Records), "driven", driven,
		"failed", len(resp.BatchItemFailures), "ms", time.Since(start).Milliseconds())
	return resp, nil
}
