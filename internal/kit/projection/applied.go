package projection

import (
	"context"
	"log/slog"
	"time"
)

// logApplied logs one line per commit of events (consecutive versions of
// one stream) that the view has just stored: the view, the stream and
// versions, the correlation and trace ids of the command behind the
// commit, and how long after the commit, so that a command can be followed
// into every view (annals trace). It is an info line in the projector's
// batches, a debug line in a rebuild's or a lift's, which store commits
// by the thousand and follow no command.
func (p *Projection[S]) logApplied(ctx context.Context, events []Event) {
	batch := batchOf(ctx)
	level := slog.LevelDebug
	if batch != nil {
		level = slog.LevelInfo
	}
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
		p.log.Log(ctx, level, "projection applied a commit", args...)
		batch.stored(first.RecordedAt)
		i = j
	}
}
