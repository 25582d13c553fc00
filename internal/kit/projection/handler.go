package projection

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/emf"
	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
)

// View is one read model fed by the projector. Each keeps its own
// per-stream positions and quarantine, so a poison
// event in one view does not stall another.
type View interface {
	Name() string
	// ApplyDecoded applies one commit's events (one stream, consecutive
	// versions), decoded by the projector. It returns only errors worth a
	// retry; poison is handled inside.
	ApplyDecoded(ctx context.Context, commit []Event) error
	// Quarantine stops the stream in the view, for a record that names it
	// but cannot be read.
	Quarantine(ctx context.Context, stream eventstore.StreamID, reason string) error
}

// Handler is the projector: it feeds each record of the events stream to
// every view.
type Handler struct {
	decode  Decoder
	views   []View
	dead    *DeadLetters
	log     *slog.Logger
	metrics *emf.Metrics
}

// NewHandler returns the projector over views; decode reads each event's
// data once for all of them (nil: each view decodes for itself), dead
// receives the records whose envelope does not decode.
func NewHandler(decode Decoder, dead *DeadLetters, log *slog.Logger, views ...View) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{decode: decode, views: views, dead: dead, log: log}
}

// Handle applies the batch. Records are grouped by partition key (a
// stream), in order of first appearance: the events of a stream's records
// are sorted, deduplicated, decoded once and applied to each view in
// contiguous runs, so a stream with k records in the batch costs each view
// one read and one write instead of k. Once a stream fails for a reason
// worth a retry, the sequence number of its first record in the batch is
// reported and its later records are left alone, so that the stream's
// order holds; other streams go on. The event source mapping resends from the lowest reported
// sequence number, and what was already applied is then skipped as
// duplicates.
//
// A record whose envelope does not decode is poison: it is dead-lettered
// with its raw data, and the stream its partition key names (the fan-out
// uses the stream key) is quarantined in every view, after the stream's
// events that came before it are applied. A partition key that is not a
// stream key names no stream to quarantine: the record is then only
// dead-lettered and logged, and the redrive must find its stream from the
// letter.
func (h *Handler) Handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	start := time.Now()
	resp := events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}
	var order []string
	groups := map[string][]*events.KinesisEventRecord{}
	for i := range ev.Records {
		key := ev.Records[i].Kinesis.PartitionKey
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], &ev.Records[i])
	}
	var applied, held, poison int
	lag := &lag{}
	ctx = withLag(ctx, lag)
	for _, key := range order {
		records := groups[key]
		n, undecodable, err := h.handleStream(ctx, records)
		applied, poison = applied+n, poison+undecodable
		if err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: records[0].Kinesis.SequenceNumber})
			held += len(records) - n
		}
	}
	level := slog.LevelInfo
	if len(resp.BatchItemFailures)+poison > 0 {
		level = slog.LevelWarn
	}
	args := append([]any{"records", len(ev.Records), "streams", len(order), "applied", applied,
		"failed", len(resp.BatchItemFailures), "held", held, "undecodable", poison,
		"ms", time.Since(start).Milliseconds()}, h.batchMetrics(lag)...)
	h.log.Log(ctx, level, "projector", args...)
	return resp, nil
}

// handleStream applies one partition key's records, in order, and returns
// how many it handled (applied or dead-lettered) before an error worth a
// retry, if any.
func (h *Handler) handleStream(ctx context.Context, records []*events.KinesisEventRecord) (handled, undecodable int, err error) {
	// Most records carry one event.
	pending := make([]eventstore.Event, 0, len(records))
	done := 0 // records whose events are in pending or already handled
	flush := func() error {
		if err := h.apply(ctx, pending, records[0]); err != nil {
			return err
		}
		pending, handled = pending[:0], done
		return nil
	}
	for _, r := range records {
		commit, derr := envelope.Decode(r.Kinesis.Data)
		if derr == nil {
			pending = append(pending, commit...)
			done++
			continue
		}
		if err := flush(); err != nil {
			return handled, undecodable, err
		}
		undecodable++
		if err := h.reject(ctx, r, derr); err != nil {
			return handled, undecodable, err
		}
		done++
		handled = done
	}
	return handled, undecodable, flush()
}

// apply feeds events (one partition key's, in any order, possibly
// repeated) to every view: per stream, sorted by version without
// duplicates, one call per contiguous run, so that each call is what a
// view expects, consecutive versions of one stream. Each run is decoded
// once, for every view.
func (h *Handler) apply(ctx context.Context, evs []eventstore.Event, first *events.KinesisEventRecord) error {
	for _, run := range runs(evs) {
		decoded := decodeAll(h.decode, run)
		for _, v := range h.views {
			if err := v.ApplyDecoded(ctx, decoded); err != nil {
				h.log.WarnContext(ctx, "projection failed to apply events; the record will be retried",
					"view", v.Name(), "stream", run[0].Stream.Key(), "version", run[0].Version,
					"sequenceNumber", first.Kinesis.SequenceNumber, "error", err.Error())
				return err
			}
		}
	}
	return nil
}

// runs splits events into runs of consecutive versions of one stream,
// streams in order of first appearance, versions ascending, each version
// once. It sorts evs in place, and the runs share its array.
func runs(evs []eventstore.Event) [][]eventstore.Event {
	// A partition key is a stream's key: one stream, but for a producer
	// that keys otherwise.
	var streams []eventstore.StreamID
	for _, e := range evs {
		if !slices.Contains(streams, e.Stream) {
			streams = append(streams, e.Stream)
		}
	}
	slices.SortStableFunc(evs, func(a, b eventstore.Event) int {
		return cmp.Or(cmp.Compare(slices.Index(streams, a.Stream), slices.Index(streams, b.Stream)), cmp.Compare(a.Version, b.Version))
	})
	evs = slices.CompactFunc(evs, func(a, b eventstore.Event) bool { return a.Stream == b.Stream && a.Version == b.Version })
	var out [][]eventstore.Event
	begin := 0
	for i := 1; i <= len(evs); i++ {
		if i == len(evs) || evs[i].Stream != evs[i-1].Stream || evs[i].Version != evs[i-1].Version+1 {
			out = append(out, evs[begin:i])
			begin = i
		}
	}
	return out
}

// reject dead-letters a record whose envelope does not decode and
// quarantines the stream its partition key names, if any.
func (h *Handler) reject(ctx context.Context, r *events.KinesisEventRecord, cause error) error {
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
