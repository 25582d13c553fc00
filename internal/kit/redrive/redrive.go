// Package redrive owns the repairs of the event pipeline that start from
// the events table, the system of record (docs/operations.md): putting a
// stream's commits back on the events stream when the fan-out could not
// deliver them, by range or as the fan-out's skipped-commits letters name
// them, and lifting a view's quarantine once its cause is fixed, one
// stream at a time or from the dead-letter queue's letters.
package redrive

import (
	"context"
	"fmt"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/fanout"
	"annals/internal/kit/projection"
)

// Commits reads a stream's commits from the events table; *eventstore.Store
// is one.
type Commits interface {
	ReadCommits(ctx context.Context, stream eventstore.StreamID, from, to int64) ([][]eventstore.Event, error)
}

// Publisher puts commits on the events stream; *fanout.Handler is one.
type Publisher interface {
	Publish(ctx context.Context, commits [][]eventstore.Event) (fanout.Published, error)
}

// Republished is what Republish did.
type Republished struct {
	Commits  int
	From, To int64 // the versions the republished commits hold
	fanout.Published
}

// Republish puts the stream's commits that hold versions from..to (to 0:
// up to the head) back on the events stream, whole: a commit is one record,
// so a range that starts or ends inside a commit takes all of it.
// Consumers skip what they already applied. A range the stream does not
// reach is ErrNotFound.
func Republish(ctx context.Context, events Commits, pub Publisher, stream eventstore.StreamID, from, to int64) (Republished, error) {
	var res Republished
	commits, err := events.ReadCommits(ctx, stream, from, to)
	if err != nil {
		return res, fmt.Errorf("republish %s: %w", stream, err)
	}
	if len(commits) == 0 {
		return res, fmt.Errorf("republish %s: the events table holds no version %d: %w", stream, from, eventstore.ErrNotFound)
	}
	last := commits[len(commits)-1]
	res.Commits, res.From, res.To = len(commits), commits[0][0].Version, last[len(last)-1].Version
	res.Published, err = pub.Publish(ctx, commits)
	if err != nil {
		return res, fmt.Errorf("republish %s %d..%d: %w", stream, res.From, res.To, err)
	}
	return res, nil
}

// Lifter lifts a stream's quarantine in one view and catches the stream up
// from the events table; *projection.Projection is one.
type Lifter interface {
	Name() string
	// Holds reports whether the view keeps streams like this one.
	Holds(stream eventstore.StreamID) bool
	Lift(ctx context.Context, stream eventstore.StreamID) (projection.Position, error)
}

// Lifted is where a stream stands in one view after a lift.
type Lifted struct {
	View     string
	Position projection.Position
}

// Healed reports whether the stream is out of quarantine.
func (l Lifted) Healed() bool { return l.Position.Quarantine == nil }

func (l Lifted) String() string {
	if q := l.Position.Quarantine; q != nil {
		return fmt.Sprintf("%s: still quarantined at %d after version %d: %s", l.View, q.At, l.Position.Version, q.Reason)
	}
	return fmt.Sprintf("%s: healed, at version %d", l.View, l.Position.Version)
}

// Lift lifts the stream's quarantine in every view given that holds such
// streams and brings each up to the events table's head. A stream still
// poisoned is quarantined again (with a new dead letter) and reported so.
// A stream no view given holds is an error.
func Lift(ctx context.Context, stream eventstore.StreamID, views ...Lifter) ([]Lifted, error) {
	var out []Lifted
	var names []string
	for _, v := range views {
		names = append(names, v.Name())
		if !v.Holds(stream) {
			continue
		}
		pos, err := v.Lift(ctx, stream)
		if err != nil {
			return out, fmt.Errorf("lift %s in the %s view: %w", stream, v.Name(), err)
		}
		out = append(out, Lifted{View: v.Name(), Position: pos})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lift %s: none of the views %v holds %q streams", stream, names, stream.Category)
	}
	return out, nil
}
