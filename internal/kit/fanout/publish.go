package fanout

import (
	"context"
	"fmt"
	"strings"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
)

// Published is what one Publish did.
type Published struct {
	Sent     int // commits now on the stream
	Requests int // PutRecords requests
	Retries  int // retry rounds
}

// Publish puts commits read from the events table on the events stream,
// exactly as Handle forwards commit inserts: one record per commit in the
// public envelope, partitioned by stream key, batched and retried with the
// same rules, until ctx ends (less the margin, when it has a deadline). It
// is the redrive's way back onto the stream. The error names every commit
// it could not send: over the record limit, or still failing at the end.
func (h *Handler) Publish(ctx context.Context, commits [][]eventstore.Event) (Published, error) {
	var t tally
	var entries []entry
	var problems []string
	for i, evs := range commits {
		if len(evs) == 0 {
			continue
		}
		data, err := envelope.Encode(evs)
		label := fmt.Sprintf("%s at %d", evs[0].Stream, evs[0].Version)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", label, err))
			continue
		}
		e := entry{index: i, seq: label, key: evs[0].Stream.Key(), data: data, commit: evs}
		if e.size() > MaxRecordBytes {
			problems = append(problems, fmt.Sprintf("%s: envelope of %d bytes is over the %d-byte record limit", label, e.size(), MaxRecordBytes))
			continue
		}
		entries = append(entries, e)
	}
	unsent := h.send(ctx, entries, &t)
	for _, e := range unsent {
		problems = append(problems, e.seq+": not accepted before the deadline")
	}
	out := Published{Sent: t.sent, Requests: t.requests, Retries: t.retries}
	if len(problems) > 0 {
		return out, fmt.Errorf("publish to %s: %d of %d commits not sent: %s", h.stream, len(problems), len(commits), strings.Join(problems, "; "))
	}
	return out, nil
}
