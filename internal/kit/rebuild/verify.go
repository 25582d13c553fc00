package rebuild

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
)

// EventReader reads a stream's events (consistent); *eventstore.Store is one.
type EventReader interface {
	Read(ctx context.Context, stream eventstore.StreamID, from int64, limit int) (eventstore.EventPage, error)
}

// Report is what a verification found, stream by stream.
type Report struct {
	Streams int // streams compared
	Equal   int // the fresh view equals the live one and the events
	// Lagging are streams where one view stands at another version than
	// the other, neither quarantined differently: the projector (or the
	// rebuild's last pass) has not applied the latest commits yet. They
	// are not differences; verify again after a catch-up.
	Lagging []string
	// Differences are real disagreements: at the same version, or on the
	// quarantine, or between the fresh view and the events.
	Differences []string
}

// OK reports whether the verification found no difference.
func (r Report) OK() bool { return len(r.Differences) == 0 }

// Compare judges two positions of a stream: a differing quarantine is a
// difference, differing versions are a lag, and at the same version same
// is the row comparison.
func Compare(fv, lv int64, fq, lq *projection.Quarantine, same func() string) (string, bool, error) {
	switch {
	case (fq == nil) != (lq == nil) || fq != nil && fq.At != lq.At:
		return fmt.Sprintf("quarantine fresh %s, live %s", quarantine(fq, fv), quarantine(lq, lv)), false, nil
	case fv != lv:
		return fmt.Sprintf("fresh at version %d, live at %d", fv, lv), true, nil
	}
	if d := same(); d != "" {
		return "at version " + fmt.Sprint(fv) + ": " + d, false, nil
	}
	return "", false, nil
}

func quarantine(q *projection.Quarantine, v int64) string {
	if q == nil {
		return fmt.Sprintf("none (at version %d)", v)
	}
	return fmt.Sprintf("at %d (%s)", q.At, q.Reason)
}

// Verify runs check on every stream with workers in parallel. check
// returns a description of what is wrong, if anything, and whether that
// is a lag rather than a difference.
func Verify(ctx context.Context, streams []eventstore.StreamID, workers int, check func(context.Context, eventstore.StreamID) (string, bool, error)) (Report, error) {
	var (
		mu   sync.Mutex
		rep  = Report{Streams: len(streams)}
		next atomic.Int64
	)
	err := parallel(ctx, max(workers, 1), func(ctx context.Context, _ int) error {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(streams) {
				return nil
			}
			s := streams[i]
			diff, lag, err := check(ctx, s)
			if err != nil {
				return err
			}
			mu.Lock()
			switch {
			case diff == "":
				rep.Equal++
			case lag:
				rep.Lagging = append(rep.Lagging, s.Key()+": "+diff)
			default:
				rep.Differences = append(rep.Differences, s.Key()+": "+diff)
			}
			mu.Unlock()
		}
	})
	slices.Sort(rep.Lagging)
	slices.Sort(rep.Differences)
	return rep, err
}

// ReadTo returns the stream's events from 1 to version.
func ReadTo(ctx context.Context, events EventReader, s eventstore.StreamID, version int64) ([]eventstore.Event, error) {
	var out []eventstore.Event
	for from := int64(1); from <= version; {
		page, err := events.Read(ctx, s, from, int(min(version-from+1, 1000)))
		if err != nil {
			return nil, fmt.Errorf("read %s from %d: %w", s, from, err)
		}
		if len(page.Events) == 0 {
			return nil, fmt.Errorf("read %s from %d: the events table ends before version %d", s, from, version)
		}
		for _, e := range page.Events {
			if e.Version <= version {
				out = append(out, e)
			}
		}
		from = page.Events[len(page.Events)-1].Version + 1
	}
	return out, nil
}
