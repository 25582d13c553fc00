package eventstore

import (
	"context"
	"fmt"
)

// EventPage is a page of a stream's events in version order.
type EventPage struct {
	Events []Event
	// Next is the version to read from for the next page, 0 at the end.
	Next int64
}

// Read returns up to limit events of the stream from version from on,
// gapless and with all their metadata. A from inside a commit starts at that
// event, not at the commit's first. A stream without commits is ErrNotFound;
// a from beyond the head is an empty page.
func (s *Store) Read(ctx context.Context, stream StreamID, from int64, limit int) (EventPage, error) {
	if err := stream.Validate(); err != nil {
		return EventPage{}, err
	}
	if limit < 1 {
		return EventPage{}, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	from = max(from, 1)
	start, err := s.commitHolding(ctx, stream, from)
	if err != nil {
		return EventPage{}, err
	}
	page, err := s.readTable(ctx, stream, start, from, limit)
	if m, ok, aerr := s.inArchive(ctx, stream, err, false); ok || aerr != nil {
		if aerr != nil {
			return EventPage{}, aerr
		}
		return s.readArchived(ctx, *m, from, limit)
	}
	return page, err
}

func (s *Store) readTable(ctx context.Context, stream StreamID, start SortKey, from int64, limit int) (EventPage, error) {
	var page EventPage
	q := Query{PK: stream.Key(), From: &start, Consistent: true, Limit: int32(min(limit, 1000)) + 1}
	for {
		p, err := s.backend.Query(ctx, q)
		if err != nil {
			return EventPage{}, fmt.Errorf("read %s from %d: %w", stream, from, err)
		}
		for i, it := range p.Items {
			if kindOf(it) == kindArchived {
				return EventPage{}, fmt.Errorf("read %s from %d: %w", stream, from, errInArchive)
			}
			if kindOf(it) != kindCommit {
				continue
			}
			c, err := decodeCommit(it)
			if err != nil {
				return EventPage{}, fmt.Errorf("read %s from %d: %w", stream, from, err)
			}
			if len(page.Events) == 0 && c.first > from {
				// The commits holding from are gone: an archival removed
				// them.
				return EventPage{}, fmt.Errorf("read %s from %d: %w", stream, from, errInArchive)
			}
			for _, e := range c.events {
				if e.Version < from {
					continue
				}
				if len(page.Events) == limit {
					page.Next = e.Version
					return page, nil
				}
				if e, err = s.upcast(e); err != nil {
					return EventPage{}, fmt.Errorf("upcast %s %d: %w", stream, e.Version, err)
				}
				page.Events = append(page.Events, e)
			}
			if len(page.Events) == limit && (i < len(p.Items)-1 || p.Next != nil) {
				page.Next = c.last() + 1
				return page, nil
			}
		}
		if p.Next == nil {
			break
		}
		q.Start = p.Next
	}
	if from == 1 && len(page.Events) == 0 {
		return EventPage{}, fmt.Errorf("read %s: %w", stream, ErrNotFound)
	}
	return page, nil
}

// commitHolding returns the sort key to start reading at so that version v
// is included: the key of the commit that holds it. Commits are keyed by
// their first version, so the holder is the greatest commit key <= v; a
// snapshot can never sit between it and v, as snapshots follow a commit's
// last event.
func (s *Store) commitHolding(ctx context.Context, stream StreamID, v int64) (SortKey, error) {
	if v <= 1 {
		return commitKey(1), nil
	}
	to := commitKey(v)
	p, err := s.backend.Query(ctx, Query{PK: stream.Key(), To: &to, Descending: true, Limit: 1, Consistent: true})
	if err != nil {
		return SortKey{}, fmt.Errorf("find the commit holding %s %d: %w", stream, v, err)
	}
	if len(p.Items) == 1 && kindOf(p.Items[0]) == kindCommit {
		_, sk, err := itemKey(p.Items[0])
		if err != nil {
			return SortKey{}, err
		}
		if last, err := num(p.Items[0], attrLast); err == nil && last >= v {
			return sk, nil
		}
	}
	return commitKey(v), nil
}
