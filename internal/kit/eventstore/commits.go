package eventstore

import (
	"context"
	"fmt"
	"time"
)

// The operations below read whole commits, as the fan-out publishes them:
// one []Event per commit, its events as stored (not upcast). They serve the
// repairs that start from the events table (a republish, a rebuild of a
// view), so that no other package needs to know how the table lays out its
// items.

// CommitScan is one segment of a parallel scan of every stream's commits.
type CommitScan struct {
	// Segment of Segments: segments partition the table by stream, so
	// workers scanning segments 0..Segments-1 read every commit once, and
	// each reads a stream's commits together, in version order. Segments
	// 0 scans the whole table as one segment.
	Segment, Segments int
	// Since, when set, keeps only the commits recorded from Since on.
	// recordedAt is compared as stored text, to the second: a commit
	// recorded up to a second earlier may be kept too, never one recorded
	// later dropped.
	Since time.Time
	// Cursor goes on from a previous page; nil starts the segment.
	Cursor *ScanCursor
}

// ScanCursor is where a scan segment goes on from. It is only good for the
// segment that returned it.
type ScanCursor struct{ key Item }

// CommitScanPage is one page of a scan segment.
type CommitScanPage struct {
	Commits [][]Event
	// Scanned is how many items the page read, of every kind and kept or
	// not: what DynamoDB bills.
	Scanned int
	// Next goes on with the segment; nil at its end.
	Next *ScanCursor
}

// ScanCommits reads one page (one Scan request of up to 1 MB, consistent)
// of a segment of the events table and returns the commits on it. The scan
// reads every item, snapshots and guards included, and keeps the commits;
// a page may hold none and still have a Next.
func (s *Store) ScanCommits(ctx context.Context, sc CommitScan) (CommitScanPage, error) {
	if !validSegment(sc.Segment, sc.Segments) {
		return CommitScanPage{}, fmt.Errorf("%w: scan segment %d of %d", ErrInvalid, sc.Segment, sc.Segments)
	}
	q := Scan{
		Segment: int32(sc.Segment), Segments: int32(sc.Segments), Consistent: true,
		Filter: []Match{{Name: attrKind, Op: MatchEqual, Value: kindCommit}},
	}
	if !sc.Since.IsZero() {
		q.Filter = append(q.Filter, Match{Name: attrRecordedAt, Op: MatchAtLeast, Value: recordedSince(sc.Since)})
	}
	if sc.Cursor != nil {
		q.Start = sc.Cursor.key
	}
	p, err := s.backend.Scan(ctx, q)
	if err != nil {
		return CommitScanPage{}, fmt.Errorf("scan segment %d of %d: %w", sc.Segment, sc.Segments, err)
	}
	page := CommitScanPage{Scanned: p.Scanned}
	for _, it := range p.Items {
		c, err := decodeCommit(it)
		if err != nil {
			return CommitScanPage{}, fmt.Errorf("scan segment %d of %d: %w", sc.Segment, sc.Segments, err)
		}
		page.Commits = append(page.Commits, c.events)
	}
	if p.Next != nil {
		page.Next = &ScanCursor{key: p.Next}
	}
	return page, nil
}

// recordedSince is the lowest recordedAt text a scan keeps to include every
// commit recorded from t on. recordedAt is RFC 3339 text in UTC whose
// fraction, when there is one, makes a plain comparison of whole times
// wrong within a second ("09:00:00.5Z" sorts before "09:00:00Z"). The
// second alone, without its zone, is a prefix of every time within it, so
// it sorts before all of them and after every earlier second.
func recordedSince(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05")
}

// ReadCommits returns the stream's commits that hold versions from..to (to
// 0: up to the head), whole, in version order: a range that starts or ends
// inside a commit takes all of it. It costs one consistent Query per 1 MB,
// and one more to find the commit holding from when from is above 1. A
// range the stream does not reach returns no commits.
func (s *Store) ReadCommits(ctx context.Context, stream StreamID, from, to int64) ([][]Event, error) {
	if err := stream.Validate(); err != nil {
		return nil, err
	}
	if from < 1 || to != 0 && to < from {
		return nil, fmt.Errorf("%w: read commits of %s: the range %d..%d is empty", ErrInvalid, stream, from, to)
	}
	start, err := s.commitHolding(ctx, stream, from)
	if err != nil {
		return nil, err
	}
	q := Query{PK: stream.Key(), From: &start, Consistent: true}
	if to != 0 {
		end := commitKey(to)
		q.To = &end
	}
	var out [][]Event
	for {
		p, err := s.backend.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read commits of %s from %d: %w", stream, from, err)
		}
		for _, it := range p.Items {
			if kindOf(it) != kindCommit {
				continue
			}
			c, err := decodeCommit(it)
			if err != nil {
				return nil, fmt.Errorf("read commits of %s from %d: %w", stream, from, err)
			}
			if c.last() >= from {
				out = append(out, c.events)
			}
		}
		if p.Next == nil {
			return out, nil
		}
		q.Start = p.Next
	}
}

// CommitPage is a page of one stream's commits, whole and in version order.
type CommitPage struct {
	Commits [][]Event
	// Next is the version to read after for the next page, 0 at the end.
	Next int64
}

// ReadCommitsAfter returns a page of the stream's commits that begin after
// version after, whole, in version order, with one consistent Query per
// 1 MB and no lookup: after is meant to be where a commit ends (0, a head,
// the end of a page), and a commit that holds it is not returned, even in
// part. A stream without commits after it is an empty page.
func (s *Store) ReadCommitsAfter(ctx context.Context, stream StreamID, after int64) (CommitPage, error) {
	if err := stream.Validate(); err != nil {
		return CommitPage{}, err
	}
	if after < 0 {
		return CommitPage{}, fmt.Errorf("%w: read commits of %s after %d", ErrInvalid, stream, after)
	}
	from := commitKey(after + 1)
	q := Query{PK: stream.Key(), From: &from, Consistent: true}
	var page CommitPage
	for {
		p, err := s.backend.Query(ctx, q)
		if err != nil {
			return CommitPage{}, fmt.Errorf("read commits of %s after %d: %w", stream, after, err)
		}
		for _, it := range p.Items {
			if kindOf(it) != kindCommit {
				continue
			}
			c, err := decodeCommit(it)
			if err != nil {
				return CommitPage{}, fmt.Errorf("read commits of %s after %d: %w", stream, after, err)
			}
			page.Commits = append(page.Commits, c.events)
		}
		switch {
		case p.Next == nil:
			return page, nil
		case len(page.Commits) > 0:
			last := page.Commits[len(page.Commits)-1]
			page.Next = last[len(last)-1].Version
			return page, nil
		}
		// A page of snapshots alone: go on rather than hand back nothing.
		q.Start = p.Next
	}
}

// ItemCount estimates how many items (commits, snapshots, guards) the
// events table holds, for a progress report: DynamoDB refreshes its figure
// about every six hours. It is 0 when the backend gives no estimate.
func (s *Store) ItemCount(ctx context.Context) (int64, error) {
	c, ok := s.backend.(ItemCounter)
	if !ok {
		return 0, nil
	}
	n, err := c.ItemCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("count the items of the events table: %w", err)
	}
	return n, nil
}
