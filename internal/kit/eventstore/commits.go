package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
	// SkipArchives leaves out the commits of archived streams, which are
	// otherwise read from their archives (the store needs WithArchive),
	// and lists the streams in the page's Archived instead.
	SkipArchives bool
	// Eventual reads eventually consistent pages, at half the read units:
	// a commit written in the last second may be missing from them. For a
	// scan that looks for what changes no more (closed accounts), not for
	// one that must see every commit (a rebuild).
	Eventual bool
	// Cursor goes on from a previous page; nil starts the segment.
	Cursor *ScanCursor
}

// ScanCursor is where a scan segment goes on from. It is only good for the
// segment that returned it, with the same SkipArchives.
type ScanCursor struct {
	key Item
	// The stream partition the key is in, as the scan has seen it so far.
	part scanPartition
}

// cursorText is a cursor as text: the key of the item the page ended on,
// and what the scan saw of its partition.
type cursorText struct {
	PK       string `json:"pk"`
	SK       string `json:"sk"`
	Archived bool   `json:"archived,omitempty"`
	Commits  bool   `json:"commits,omitempty"`
}

// MarshalText encodes the cursor, so that a scan can go on in another
// process: a scheduled run that takes up where the last one stopped.
func (c ScanCursor) MarshalText() ([]byte, error) {
	pk, sk, err := itemKey(c.key)
	if err != nil {
		return nil, fmt.Errorf("scan cursor: %w", err)
	}
	return json.Marshal(cursorText{PK: pk, SK: sk.String(), Archived: c.part.archived, Commits: c.part.commits})
}

// UnmarshalText decodes what MarshalText encoded.
func (c *ScanCursor) UnmarshalText(b []byte) error {
	var t cursorText
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("%w: scan cursor: %v", ErrInvalid, err)
	}
	sk, err := ParseSortKey(t.SK)
	if err != nil || t.PK == "" {
		return fmt.Errorf("%w: scan cursor %s", ErrInvalid, b)
	}
	*c = ScanCursor{
		key:  Item{attrPK: s(t.PK), attrSK: &types.AttributeValueMemberN{Value: sk.String()}},
		part: scanPartition{pk: t.PK, archived: t.Archived, commits: t.Commits},
	}
	return nil
}

// scanPartition is what a scan has seen of one stream's partition: its
// items come together, in key order, possibly over several pages.
type scanPartition struct {
	pk string
	// archived: its first item was a placeholder or the marker: its
	// commits were answered from the archive (or, skipping archives, left
	// out), and the commits that are still in the table are not.
	archived bool
	// commits: a commit of it was met in the table.
	commits bool
}

// ArchivedStream is an archived stream a scan met, when it skips
// archives.
type ArchivedStream struct {
	Stream StreamID
	// Leftovers: commits of it are still in the table (an archival that
	// stopped, or a restore), which running Archive again takes out.
	Leftovers bool
}

// CommitScanPage is one page of a scan segment.
type CommitScanPage struct {
	Commits [][]Event
	// Archived lists, with SkipArchives, the archived streams whose
	// marker the page met.
	Archived []ArchivedStream
	// Scanned is how many items the page read, of every kind and kept or
	// not: what DynamoDB bills.
	Scanned int
	// Next goes on with the segment; nil at its end.
	Next *ScanCursor
}

// ScanCommits reads one page (one Scan request of up to 1 MB, consistent
// unless Eventual) of a segment of the events table and returns the
// commits on it. The scan
// reads every item, snapshots and guards included, and keeps the commits
// and the archived streams' items; a page may hold none and still have a
// Next.
//
// An archived stream (its first item a placeholder) gives the commits of
// its archive, whole, where its items are in the scan, so that a rebuild
// of a view finds it as it was; each costs one Query (its marker) and
// one read of its object. A stream whose archival or restore stopped half
// way gives the same commits, once.
func (s *Store) ScanCommits(ctx context.Context, sc CommitScan) (CommitScanPage, error) {
	if !validSegment(sc.Segment, sc.Segments) {
		return CommitScanPage{}, fmt.Errorf("%w: scan segment %d of %d", ErrInvalid, sc.Segment, sc.Segments)
	}
	q := Scan{
		Segment: int32(sc.Segment), Segments: int32(sc.Segments), Consistent: !sc.Eventual,
		Filter: []Match{{Name: attrKind, Op: MatchOneOf, Values: []string{kindCommit, kindArchived}}},
	}
	if !sc.Since.IsZero() {
		q.Filter = append(q.Filter, Match{Name: attrRecordedAt, Op: MatchAtLeast, Value: recordedSince(sc.Since)})
	}
	var part scanPartition
	if sc.Cursor != nil {
		q.Start, part = sc.Cursor.key, sc.Cursor.part
	}
	p, err := s.backend.Scan(ctx, q)
	if err != nil {
		return CommitScanPage{}, fmt.Errorf("scan segment %d of %d: %w", sc.Segment, sc.Segments, err)
	}
	page := CommitScanPage{Scanned: p.Scanned}
	for _, it := range p.Items {
		pk, _, err := itemKey(it)
		if err != nil {
			return CommitScanPage{}, fmt.Errorf("scan segment %d of %d: %w", sc.Segment, sc.Segments, err)
		}
		first := pk != part.pk
		if first {
			part = scanPartition{pk: pk}
		}
		switch {
		case kindOf(it) == kindCommit:
			if !part.archived {
				c, err := decodeCommit(it)
				if err != nil {
					return CommitScanPage{}, fmt.Errorf("scan segment %d of %d: %w", sc.Segment, sc.Segments, err)
				}
				page.Commits = append(page.Commits, c.events)
			}
			part.commits = true
		case first:
			// The stream's first commit is in the archive: so are all the
			// others.
			part.archived = true
			if !sc.SkipArchives {
				cs, err := s.scannedArchive(ctx, pk)
				if err != nil {
					return CommitScanPage{}, fmt.Errorf("scan segment %d of %d: %w", sc.Segment, sc.Segments, err)
				}
				page.Commits = append(page.Commits, cs...)
			}
		}
		// The marker of a stream whose commits were all in the table (its
		// archival stopped before the placeholders, or its restore before
		// the marker went) adds nothing to them.
		if isMarker(it) && sc.SkipArchives {
			stream, err := ParseStreamKey(pk)
			if err != nil {
				return CommitScanPage{}, fmt.Errorf("scan segment %d of %d: %w", sc.Segment, sc.Segments, err)
			}
			page.Archived = append(page.Archived, ArchivedStream{Stream: stream, Leftovers: part.commits})
		}
	}
	if p.Next != nil {
		next := &ScanCursor{key: p.Next}
		if pk, _, err := itemKey(p.Next); err == nil && pk == part.pk {
			next.part = part
		} else {
			// The items read after the last one kept were of another
			// partition, which keeps no commits.
			next.part = scanPartition{pk: pk}
		}
		page.Next = next
	}
	return page, nil
}

// scannedArchive returns the commits of the archived stream a scan met.
func (s *Store) scannedArchive(ctx context.Context, pk string) ([][]Event, error) {
	stream, err := ParseStreamKey(pk)
	if err != nil {
		return nil, err
	}
	m, err := s.archiveMarker(ctx, stream)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%s: %w, but it has no archive marker", stream, errInArchive)
	}
	cs, err := s.commitsOf(ctx, *m)
	if err != nil {
		return nil, err
	}
	out := make([][]Event, len(cs))
	for i, c := range cs {
		out[i] = c.events
	}
	return out, nil
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
// range the stream does not reach returns no commits. An archived stream's
// commits are read from its archive.
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
	err = s.queryCommits(ctx, q, func(c commit) bool {
		if c.last() >= from {
			out = append(out, c.events)
		}
		return true
	})
	if m, ok, aerr := s.inArchive(ctx, stream, err, false); ok || aerr != nil {
		if aerr != nil {
			return nil, aerr
		}
		return s.archivedRange(ctx, *m, func(c commit) bool { return c.last() >= from && (to == 0 || c.first <= to) })
	}
	if err != nil {
		return nil, fmt.Errorf("read commits of %s from %d: %w", stream, from, err)
	}
	return out, nil
}

// queryCommits calls each with the commits of a partition's range, page by
// page, until it returns false; an item of an archived stream is
// errInArchive.
func (s *Store) queryCommits(ctx context.Context, q Query, each func(commit) bool) error {
	for {
		p, err := s.backend.Query(ctx, q)
		if err != nil {
			return err
		}
		for _, it := range p.Items {
			switch kindOf(it) {
			case kindArchived:
				return errInArchive
			case kindCommit:
				c, err := decodeCommit(it)
				if err != nil {
					return err
				}
				if !each(c) {
					return nil
				}
			}
		}
		if p.Next == nil {
			return nil
		}
		q.Start = p.Next
	}
}

// archivedRange returns the commits of an archived stream that keep
// selects.
func (s *Store) archivedRange(ctx context.Context, m marker, keep func(commit) bool) ([][]Event, error) {
	cs, err := s.commitsOf(ctx, m)
	if err != nil {
		return nil, err
	}
	var out [][]Event
	for _, c := range cs {
		if keep(c) {
			out = append(out, c.events)
		}
	}
	return out, nil
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
// part. A stream without commits after it is an empty page. An archived
// stream's commits are read from its archive, in one page.
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
	var pageEnd bool
	for !pageEnd {
		p, err := s.backend.Query(ctx, q)
		if err != nil {
			return CommitPage{}, fmt.Errorf("read commits of %s after %d: %w", stream, after, err)
		}
		for _, it := range p.Items {
			if kindOf(it) == kindArchived {
				m, err := s.archiveMarker(ctx, stream)
				if err == nil && m == nil {
					err = fmt.Errorf("%w, but %s has no archive marker", errInArchive, stream)
				}
				if err != nil {
					return CommitPage{}, fmt.Errorf("read commits of %s after %d: %w", stream, after, err)
				}
				cs, err := s.archivedRange(ctx, *m, func(c commit) bool { return c.first > after })
				if err != nil {
					return CommitPage{}, fmt.Errorf("read commits of %s after %d: %w", stream, after, err)
				}
				return CommitPage{Commits: cs}, nil
			}
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
			pageEnd = true
		default:
			// A page of snapshots alone: go on rather than hand back
			// nothing.
			q.Start = p.Next
		}
	}
	return page, nil
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
