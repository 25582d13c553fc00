package projection

import (
	"context"
	"time"

	"annals/internal/kit/eventstore"
)

// logApplied logs one line per commit of events (consecutive versions of
// one stream) that the view has just stored: the view, the stream and
// versions, the correlation and trace ids of the command behind the
// commit, and how long after the commit, so that a command can be followed
// into every view (annals trace).
func (p *Projection[S]) logApplied(ctx context.Context, events []eventstore.Event) {
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].CommitID == events[i].CommitID {
			j++
		}
		first, last := events[i], events[j-1]
		args := []any{
			"view", p.name, "stream", first.Stream.Key(), "version", first.Version, "lastVersion", last.Version,
			"correlationId", first.CorrelationID, "sinceCommitMs", time.Since(first.RecordedAt).Milliseconds(),
		}
		if first.TraceID != "" {
			args = append(args, "traceId", first.TraceID)
		}
		p.log.InfoContext(ctx, "projection applied a commit", args...)
		noteStored(ctx, first.RecordedAt)
		i = j
	}
}
