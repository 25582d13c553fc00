package projection

import (
	"context"
	"sync"
	"time"

	"annals/internal/kit/emf"
)

// WithMetrics makes the projector's line for each batch also its metrics
// (emf): the records in the batch, and the lag of the oldest commit a
// view stored from it, from the commit to the end of the batch.
func (h *Handler) WithMetrics(m *emf.Metrics) *Handler {
	h.metrics = m
	return h
}

// lag is the oldest commit the views stored in one batch: only what they
// stored counts, so a duplicate or a republished range they skip does not
// look like a view falling behind.
type lag struct {
	mu     sync.Mutex
	oldest time.Time
}

type lagKey struct{}

// withLag returns a context on which the views note what they store in l.
func withLag(ctx context.Context, l *lag) context.Context { return context.WithValue(ctx, lagKey{}, l) }

// batchOf is the projector's batch ctx belongs to, or nil (a rebuild, a
// lift).
func batchOf(ctx context.Context) *lag {
	l, _ := ctx.Value(lagKey{}).(*lag)
	return l
}

// stored counts a commit recorded at t that a view has just stored; on a
// nil l, nothing.
func (l *lag) stored(t time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.oldest.IsZero() || t.Before(l.oldest) {
		l.oldest = t
	}
}

// batchMetrics are the batch line's lagMs field, when a view stored
// anything, and the declaration of its metrics.
func (h *Handler) batchMetrics(l *lag) []any {
	declared := []emf.Metric{{Name: "records", Unit: emf.Count}}
	var args []any
	l.mu.Lock()
	oldest := l.oldest
	l.mu.Unlock()
	if !oldest.IsZero() {
		args = append(args, "lagMs", time.Since(oldest).Milliseconds())
		declared = append(declared, emf.Metric{Name: "lagMs", Unit: emf.Milliseconds})
	}
	return append(args, h.metrics.Args(declared...)...)
}
