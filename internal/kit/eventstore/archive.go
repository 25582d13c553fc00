package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Archival moves a stream that will take no more commits (a closed
// account) out of the events table: its commits and snapshots are written
// to one object, read back and compared, and then taken out of the table
// in bounded batches, leaving the stream's marker, which says where the
// object is and keeps the final state, and a placeholder at each commit's
// key, which keeps every writer out. Every step can be repeated, so an
// operation that stops anywhere is finished by running it again. The
// format of the object is docs/eventstore.md's "Archives".

// ErrArchived: the stream was archived; it takes no commits until it is
// restored.
var ErrArchived = errors.New("stream archived")

// ArchiveObjects holds archive objects (an S3 bucket).
type ArchiveObjects interface {
	// Bucket names where the objects are, for the marker.
	Bucket() string
	Put(ctx context.Context, key string, body []byte) error
	// Get returns an object's bytes; an absent object is ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
}

// BatchWriter is a Backend that writes items in batches without
// conditions: only archival and restore do, so it is asserted where used.
type BatchWriter interface {
	// WriteBatch puts the items puts and deletes the items with the keys
	// dels (KeyOf): at most MaxBatch of them together, no key twice
	// (CheckBatch). Every one applies, unconditionally; deleting an absent
	// item is no error. A batch is idempotent, so one whose outcome is
	// unknown is sent again whole.
	WriteBatch(ctx context.Context, puts, dels []Item) error
}

// MaxBatch is the most writes one WriteBatch takes (DynamoDB's
// BatchWriteItem).
const MaxBatch = 25

// CheckBatch refuses what DynamoDB refuses of a BatchWriteItem: no write,
// more than MaxBatch, a key written twice, an item over MaxItemSize.
func CheckBatch(puts, dels []Item) error {
	if n := len(puts) + len(dels); n == 0 || n > MaxBatch {
		return fmt.Errorf("%w: a batch of %d writes", ErrInvalid, n)
	}
	seen := map[string]bool{}
	for _, it := range slices.Concat(puts, dels) {
		pk, sk, err := itemKey(it)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if k := pk + "\x00" + sk.String(); seen[k] {
			return fmt.Errorf("%w: a batch writes %s at %s twice", ErrInvalid, pk, sk)
		} else {
			seen[k] = true
		}
	}
	for _, it := range puts {
		if size := ItemSize(it); size > MaxItemSize {
			pk, _, _ := itemKey(it)
			return &TooLargeError{What: "item " + pk, Size: size, Limit: MaxItemSize}
		}
	}
	return nil
}

// BatchUnits is the write capacity of a batch: each put by its size, each
// delete one unit (DynamoDB bills it by the size of the item deleted,
// which a key does not tell).
func BatchUnits(puts, dels []Item) float64 { return WriteUnits(puts, false) + float64(len(dels)) }

// ArchiveFormat names the object format in its header line. Objects of
// the first format, which kept no snapshots, are read as well.
const (
	ArchiveFormat   = "annals-archive/2"
	archiveFormatV1 = "annals-archive/1"
)

const (
	kindArchived = "archived"

	attrArchiveBucket = "ab"
	attrArchiveKey    = "ak"
	attrArchiveSum    = "as"
	attrArchivedAt    = "aa"
)

// Archived says where a stream's archive is.
type Archived struct {
	Stream StreamID
	Bucket string
	Key    string
	SHA256 string // of the object's body, hex
	Last   int64  // the stream's last version
	// At is when the archival began (wrote the marker); zero for an
	// archive made before markers kept it.
	At        time.Time
	Commits   int
	Snapshots int
	// Removed is how many items this call took out of the table: the
	// snapshots it deleted and the commits it replaced by placeholders.
	Removed int
}

// archiveHeader is the object's first line.
type archiveHeader struct {
	Format    string `json:"format"`
	Stream    string `json:"stream"`
	First     int64  `json:"first"`
	Last      int64  `json:"last"`
	Commits   int    `json:"commits"`
	Snapshots int    `json:"snapshots"`
	SHA256    string `json:"sha256"`
}

// archiveLine is one commit, with everything its item holds: restoring it
// writes the same item back.
type archiveLine struct {
	CommitID      string         `json:"commitId"`
	First         int64          `json:"first"`
	RecordedAt    string         `json:"recordedAt"`
	Actor         string         `json:"actor,omitempty"`
	CommandID     string         `json:"commandId,omitempty"`
	CorrelationID string         `json:"correlationId,omitempty"`
	CausationID   string         `json:"causationId,omitempty"`
	TraceID       string         `json:"traceId,omitempty"`
	Events        []archiveEvent `json:"events"`
	FoldKey       string         `json:"foldKey,omitempty"`
	State         string         `json:"state,omitempty"`
}

// archiveEvent keeps the data as a string: the bytes stored, not JSON
// re-encoded.
type archiveEvent struct {
	ID            string `json:"id"`
	Version       int64  `json:"version"`
	Type          string `json:"type"`
	SchemaVersion int    `json:"schemaVersion"`
	OccurredAt    string `json:"occurredAt"`
	Data          string `json:"data"`
}

func lineOf(c commit) archiveLine {
	l := archiveLine{
		CommitID: c.id, First: c.first, RecordedAt: c.recordedAt.UTC().Format(timeLayout),
		Actor: c.meta.Actor, CommandID: c.meta.CommandID, CorrelationID: c.meta.CorrelationID,
		CausationID: c.meta.CausationID, TraceID: c.meta.TraceID,
		FoldKey: c.foldKey, State: string(c.state),
	}
	for _, e := range c.events {
		l.Events = append(l.Events, archiveEvent{
			ID: e.ID, Version: e.Version, Type: e.Type, SchemaVersion: e.SchemaVersion,
			OccurredAt: e.OccurredAt.UTC().Format(timeLayout), Data: string(e.Data),
		})
	}
	return l
}

// snapshotLine is one snapshot, after the commits: restoring it writes
// the same item back, so that a restored stream loads and answers a time
// from its snapshots as cheaply as before.
type snapshotLine struct {
	Snapshot struct {
		Version    int64  `json:"version"`
		RecordedAt string `json:"recordedAt"`
		FoldKey    string `json:"foldKey"`
		State      string `json:"state"`
	} `json:"snapshot"`
}

func snapshotLineOf(sn snapshot) snapshotLine {
	var l snapshotLine
	l.Snapshot.Version, l.Snapshot.RecordedAt = sn.version, sn.recordedAt.UTC().Format(timeLayout)
	l.Snapshot.FoldKey, l.Snapshot.State = sn.foldKey, string(sn.state)
	return l
}

// snapshot rebuilds the snapshot through its item, as commit does.
func (l snapshotLine) snapshot(stream StreamID) (snapshot, error) {
	ra, err := time.Parse(timeLayout, l.Snapshot.RecordedAt)
	if err != nil {
		return snapshot{}, err
	}
	sn := snapshot{stream: stream, version: l.Snapshot.Version, recordedAt: ra, foldKey: l.Snapshot.FoldKey, state: []byte(l.Snapshot.State)}
	return decodeSnapshot(sn.item())
}

// commit rebuilds the commit through its item, so that a line decodes
// exactly as the item it came from.
func (l archiveLine) commit(stream StreamID) (commit, error) {
	ra, err := time.Parse(timeLayout, l.RecordedAt)
	if err != nil {
		return commit{}, err
	}
	c := commit{
		id: l.CommitID, stream: stream, first: l.First, recordedAt: ra,
		meta:    Metadata{Actor: l.Actor, CommandID: l.CommandID, CorrelationID: l.CorrelationID, CausationID: l.CausationID, TraceID: l.TraceID},
		foldKey: l.FoldKey, state: []byte(l.State),
	}
	for i, e := range l.Events {
		oa, err := time.Parse(timeLayout, e.OccurredAt)
		if err != nil {
			return commit{}, err
		}
		if e.Version != l.First+int64(i) {
			return commit{}, fmt.Errorf("commit at %d: event %d has version %d", l.First, i, e.Version)
		}
		c.events = append(c.events, Event{ID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion, OccurredAt: oa, Data: json.RawMessage(e.Data)})
	}
	return decodeCommit(c.item())
}

// encodeArchive returns the object: the header line, then a line per
// commit, then a line per snapshot. The checksum covers the lines after
// the header.
func encodeArchive(stream StreamID, commits []commit, snapshots []snapshot) ([]byte, string, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	for _, c := range commits {
		if err := enc.Encode(lineOf(c)); err != nil {
			return nil, "", err
		}
	}
	for _, sn := range snapshots {
		if err := enc.Encode(snapshotLineOf(sn)); err != nil {
			return nil, "", err
		}
	}
	sum := sha256.Sum256(body.Bytes())
	h := archiveHeader{
		Format: ArchiveFormat, Stream: stream.Key(), First: commits[0].first,
		Last: commits[len(commits)-1].last(), Commits: len(commits), Snapshots: len(snapshots), SHA256: hex.EncodeToString(sum[:]),
	}
	head, err := json.Marshal(h)
	if err != nil {
		return nil, "", err
	}
	return append(append(head, '\n'), body.Bytes()...), h.SHA256, nil
}

// decodeArchive checks an object against the stream and checksum expected
// and returns its commits and snapshots.
func decodeArchive(stream StreamID, obj []byte, sum string) ([]commit, []snapshot, error) {
	head, body, ok := bytes.Cut(obj, []byte{'\n'})
	if !ok {
		return nil, nil, errors.New("archive has no header line")
	}
	var h archiveHeader
	if err := json.Unmarshal(head, &h); err != nil {
		return nil, nil, fmt.Errorf("archive header: %w", err)
	}
	got := sha256.Sum256(body)
	switch {
	case h.Format != ArchiveFormat && h.Format != archiveFormatV1:
		return nil, nil, fmt.Errorf("archive format %q, not %q", h.Format, ArchiveFormat)
	case h.Stream != stream.Key():
		return nil, nil, fmt.Errorf("archive of %s, not %s", h.Stream, stream)
	case hex.EncodeToString(got[:]) != h.SHA256 || sum != "" && sum != h.SHA256:
		return nil, nil, fmt.Errorf("archive of %s: checksum mismatch", stream)
	case h.Format == archiveFormatV1 && h.Snapshots != 0:
		return nil, nil, fmt.Errorf("archive of %s: format %s keeps no snapshots", stream, h.Format)
	}
	var commits []commit
	var snapshots []snapshot
	next, n := int64(1), 1
	for line := range bytes.Lines(body) {
		n++
		if len(commits) < h.Commits {
			var l archiveLine
			if err := json.Unmarshal(line, &l); err != nil {
				return nil, nil, fmt.Errorf("archive of %s: line %d: %w", stream, n, err)
			}
			c, err := l.commit(stream)
			if err != nil {
				return nil, nil, fmt.Errorf("archive of %s: line %d: %w", stream, n, err)
			}
			if c.first != next {
				return nil, nil, fmt.Errorf("archive of %s: commit at %d, expected %d", stream, c.first, next)
			}
			next = c.last() + 1
			commits = append(commits, c)
			continue
		}
		var l snapshotLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, nil, fmt.Errorf("archive of %s: line %d: %w", stream, n, err)
		}
		sn, err := l.snapshot(stream)
		if err != nil {
			return nil, nil, fmt.Errorf("archive of %s: line %d: %w", stream, n, err)
		}
		snapshots = append(snapshots, sn)
	}
	if len(commits) != h.Commits || len(snapshots) != h.Snapshots || next-1 != h.Last {
		return nil, nil, fmt.Errorf("archive of %s: %d commits to %d and %d snapshots, the header says %d to %d and %d",
			stream, len(commits), next-1, len(snapshots), h.Commits, h.Last, h.Snapshots)
	}
	return commits, snapshots, nil
}

// ArchiveKey is where a stream's archive goes in its bucket. It names the
// last version, so that an archive is never overwritten by another of the
// same stream at another length.
func ArchiveKey(stream StreamID, last int64) string {
	return fmt.Sprintf("%s/%s/%s/%d.jsonl", stream.Tenant, stream.Category, stream.ID, last)
}

// marker is a stream's archived item: at the version after its last, so
// that a writer holding the final head collides with it. (A writer
// holding an older head collides with the placeholder at the key of the
// commit that followed it.)
type marker struct {
	stream         StreamID
	last           int64
	bucket, key    string
	sum            string
	recordedAt     time.Time
	foldKey, state string
	// at is when the archival wrote it; zero for a marker written before
	// markers kept it.
	at time.Time
}

func (m marker) item() Item {
	it := Item{
		attrPK: s(m.stream.Key()), attrSK: n(m.last + 1), attrKind: s(kindArchived),
		attrLast: n(m.last), attrTenant: s(m.stream.Tenant), attrRecordedAt: s(m.recordedAt.UTC().Format(timeLayout)),
		attrArchiveBucket: s(m.bucket), attrArchiveKey: s(m.key), attrArchiveSum: s(m.sum),
	}
	if m.state != "" {
		it[attrFoldKey], it[attrState] = s(m.foldKey), s(m.state)
	}
	if !m.at.IsZero() {
		it[attrArchivedAt] = s(m.at.UTC().Format(timeLayout))
	}
	return it
}

// placeholder is what a commit's item becomes when its stream is
// archived: its key, of kind archived, and nothing else. A writer at the
// version before the commit (a head from before the archival, in a cache
// or a load) fails its condition on it, and is told ErrArchived: no
// write at any expected version ever puts an item into an archived
// stream.
func placeholder(commitItem Item) Item {
	return Item{attrPK: commitItem[attrPK], attrSK: commitItem[attrSK], attrKind: s(kindArchived)}
}

// isMarker tells a marker from a placeholder, both of kind archived.
func isMarker(it Item) bool {
	_, ok := it[attrArchiveKey]
	return kindOf(it) == kindArchived && ok
}

func decodeMarker(stream StreamID, it Item) (marker, error) {
	m := marker{stream: stream, foldKey: optStr(it, attrFoldKey), state: optStr(it, attrState)}
	var errs [5]error
	m.last, errs[0] = num(it, attrLast)
	m.bucket, errs[1] = str(it, attrArchiveBucket)
	m.key, errs[2] = str(it, attrArchiveKey)
	m.sum, errs[3] = str(it, attrArchiveSum)
	m.recordedAt, errs[4] = timeAttr(it, attrRecordedAt)
	if err := errors.Join(errs[:]...); err != nil {
		return m, fmt.Errorf("archive marker of %s: %w", stream, err)
	}
	if _, ok := it[attrArchivedAt]; ok {
		at, err := timeAttr(it, attrArchivedAt)
		if err != nil {
			return m, fmt.Errorf("archive marker of %s: %w", stream, err)
		}
		m.at = at
	}
	return m, nil
}

// newestItem returns the newest item of the stream's partition, nil when
// it has none.
func (s *Store) newestItem(ctx context.Context, stream StreamID) (Item, error) {
	p, err := s.backend.Query(ctx, Query{PK: stream.Key(), Descending: true, Limit: 1, Consistent: true})
	if err != nil {
		return nil, fmt.Errorf("read the head of %s: %w", stream, err)
	}
	if len(p.Items) == 0 {
		return nil, nil
	}
	return p.Items[0], nil
}

// archiveMarker returns the stream's marker, or nil when it is not
// archived.
func (s *Store) archiveMarker(ctx context.Context, stream StreamID) (*marker, error) {
	it, err := s.newestItem(ctx, stream)
	if err != nil || it == nil || kindOf(it) != kindArchived {
		return nil, err
	}
	m, err := decodeMarker(stream, it)
	return &m, err
}

// allCommits reads every commit of the stream, in version order.
func (s *Store) allCommits(ctx context.Context, stream StreamID) ([]commit, error) {
	var out []commit
	err := s.partitionItems(ctx, stream.Key(), func(it Item) error {
		if kindOf(it) != kindCommit {
			return nil
		}
		c, err := decodeCommit(it)
		if err == nil {
			out = append(out, c)
		}
		return err
	})
	return out, err
}

// allSnapshots reads every snapshot of the stream's snapshot partition
// that decodes, in key order (by time).
func (s *Store) allSnapshots(ctx context.Context, stream StreamID) ([]snapshot, error) {
	var out []snapshot
	err := s.partitionItems(ctx, snapshotPartition(stream), func(it Item) error {
		if sn, err := decodeSnapshot(it); err == nil {
			out = append(out, sn)
		} else {
			// Nothing reads a snapshot that does not decode: it is not
			// kept in the archive, and goes with the others.
			s.log.WarnContext(ctx, "unreadable snapshot left out of the archive", "stream", stream.String(), "error", err)
		}
		return nil
	})
	return out, err
}

func (s *Store) partitionItems(ctx context.Context, pk string, each func(Item) error) error {
	q := Query{PK: pk, Consistent: true}
	for {
		p, err := s.backend.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("read %s: %w", pk, err)
		}
		for _, it := range p.Items {
			if err := each(it); err != nil {
				return err
			}
		}
		if p.Next == nil {
			return nil
		}
		q.Start = p.Next
	}
}

// Archive moves the stream's commits and snapshots to an object and
// leaves its marker. The stream must take no more commits: a writer that
// appends between the read and the marker makes it ErrConflict, and
// nothing is taken out. A stream already archived has what is left of its
// items taken out, so that running it again finishes an archival that
// stopped.
func (s *Store) Archive(ctx context.Context, stream StreamID, objects ArchiveObjects) (Archived, error) {
	if err := stream.Validate(); err != nil {
		return Archived{}, err
	}
	bw, ok := s.backend.(BatchWriter)
	if !ok {
		return Archived{}, fmt.Errorf("archive %s: the backend %T cannot write batches", stream, s.backend)
	}
	m, err := s.archiveMarker(ctx, stream)
	if err != nil {
		return Archived{}, err
	}
	var commits, snapshots int
	if m == nil {
		cs, err := s.allCommits(ctx, stream)
		if err != nil {
			return Archived{}, err
		}
		if len(cs) == 0 {
			return Archived{}, fmt.Errorf("archive %s: %w", stream, ErrNotFound)
		}
		sns, err := s.allSnapshots(ctx, stream)
		if err != nil {
			return Archived{}, err
		}
		obj, sum, err := encodeArchive(stream, cs, sns)
		if err != nil {
			return Archived{}, fmt.Errorf("archive %s: %w", stream, err)
		}
		head := cs[len(cs)-1]
		key := ArchiveKey(stream, head.last())
		if err := objects.Put(ctx, key, obj); err != nil {
			return Archived{}, fmt.Errorf("archive %s: write %s: %w", stream, key, err)
		}
		back, err := objects.Get(ctx, key)
		if err != nil {
			return Archived{}, fmt.Errorf("archive %s: read back %s: %w", stream, key, err)
		}
		if !bytes.Equal(back, obj) {
			return Archived{}, fmt.Errorf("archive %s: %s reads back other bytes than were written", stream, key)
		}
		m = &marker{
			stream: stream, last: head.last(), bucket: objects.Bucket(), key: key, sum: sum,
			recordedAt: head.recordedAt, foldKey: head.foldKey, state: string(head.state), at: s.now().UTC(),
		}
		if err := s.backend.Write(ctx, []Write{{Item: m.item(), MustNotExist: true}}, ""); err != nil {
			var cf *ConditionFailedError
			if errors.As(err, &cf) && kindOf(cf.Failed[0].Existing) == kindCommit {
				return Archived{}, fmt.Errorf("archive %s: a commit followed version %d: %w", stream, head.last(), ErrConflict)
			}
			if !errors.As(err, &cf) {
				return Archived{}, fmt.Errorf("archive %s: write the marker: %w", stream, err)
			}
			// Our own marker, from an attempt whose answer was lost.
		}
		commits, snapshots = len(cs), len(sns)
	}
	removed, err := s.removeArchived(ctx, bw, stream)
	a := Archived{Stream: stream, Bucket: m.bucket, Key: m.key, SHA256: m.sum, Last: m.last, At: m.at, Commits: commits, Snapshots: snapshots, Removed: removed}
	if err != nil {
		return a, fmt.Errorf("archive %s: %w", stream, err)
	}
	return a, nil
}

// batch gathers the writes of a WriteBatch and sends them MaxBatch at a
// time, in the order they came.
type batch struct {
	bw         BatchWriter
	puts, dels []Item
	written    int
}

func (b *batch) put(ctx context.Context, it Item) error {
	b.puts = append(b.puts, it)
	return b.flushFull(ctx)
}

func (b *batch) del(ctx context.Context, key Item) error {
	b.dels = append(b.dels, KeyOf(key))
	return b.flushFull(ctx)
}

func (b *batch) flushFull(ctx context.Context) error {
	if len(b.puts)+len(b.dels) < MaxBatch {
		return nil
	}
	return b.flush(ctx)
}

func (b *batch) flush(ctx context.Context) error {
	n := len(b.puts) + len(b.dels)
	if n == 0 {
		return nil
	}
	if err := b.bw.WriteBatch(ctx, b.puts, b.dels); err != nil {
		return fmt.Errorf("write a batch of %d: %w", n, err)
	}
	b.written += n
	b.puts, b.dels = nil, nil
	return nil
}

// removeArchived takes the stream's items out of the table, a batch at a
// time, keeping its marker: the snapshots are deleted first, then every
// commit is replaced by its placeholder, from the first on. So what an
// archival that stopped leaves is the latest commits, the marker, and
// placeholders before them: a read that meets a placeholder or the marker
// answers from the archive.
func (s *Store) removeArchived(ctx context.Context, bw BatchWriter, stream StreamID) (int, error) {
	b := &batch{bw: bw}
	err := s.partitionItems(ctx, snapshotPartition(stream), func(it Item) error { return b.del(ctx, it) })
	if err == nil {
		err = b.flush(ctx)
	}
	if err == nil {
		err = s.partitionItems(ctx, stream.Key(), func(it Item) error {
			switch kindOf(it) {
			case kindArchived:
				return nil
			case kindCommit:
				return b.put(ctx, placeholder(it))
			}
			// A snapshot of a table written before snapshots had a
			// partition of their own: not kept, as nothing needs it.
			return b.del(ctx, it)
		})
	}
	if err == nil {
		err = b.flush(ctx)
	}
	if err != nil {
		return b.written, fmt.Errorf("take %s out of the table: %w", stream, err)
	}
	return b.written, nil
}

// Restore brings an archived stream back: its commits and snapshots are
// written again from the archive, read back and compared, and then its
// marker is removed. It reports whether the stream was archived; running
// it again after it stopped anywhere finishes it.
//
// The writes are batches without conditions. They may be: every key they
// write is held, until the marker goes, by the placeholder or the commit
// that was archived there, and no writer ever puts an item at a key that
// is held (appends are conditional on the key being free); snapshots are
// only written after an append, which an archived stream refuses. So
// nothing but a restore writes these keys, and a restore writes the same
// bytes each time.
func (s *Store) Restore(ctx context.Context, stream StreamID, objects ArchiveObjects) (bool, error) {
	if err := stream.Validate(); err != nil {
		return false, err
	}
	bw, ok := s.backend.(BatchWriter)
	if !ok {
		return false, fmt.Errorf("restore %s: the backend %T cannot write batches", stream, s.backend)
	}
	m, err := s.archiveMarker(ctx, stream)
	if err != nil || m == nil {
		return false, err
	}
	if m.bucket != objects.Bucket() {
		return false, fmt.Errorf("restore %s: its archive is in bucket %s, not %s", stream, m.bucket, objects.Bucket())
	}
	archived, snapshots, err := s.archivedCommits(ctx, *m, objects)
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", stream, err)
	}
	// What an attempt that stopped wrote back already is not written
	// again.
	back := map[int64]string{}
	err = s.partitionItems(ctx, stream.Key(), func(it Item) error {
		if kindOf(it) == kindCommit {
			_, sk, err := itemKey(it)
			back[sk.Version] = optStr(it, attrCommitID)
			return err
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", stream, err)
	}
	b := &batch{bw: bw}
	// The last commits first: what a restore that stopped leaves is, as
	// for an archival, placeholders before the latest commits, and the
	// marker, which reads know.
	for _, c := range slices.Backward(archived) {
		switch id, ok := back[c.first]; {
		case ok && id == c.id:
			continue
		case ok:
			return false, fmt.Errorf("restore %s: the table holds commit %s at %d, the archive %s", stream, id, c.first, c.id)
		}
		if err := b.put(ctx, c.item()); err != nil {
			return false, fmt.Errorf("restore %s: %w", stream, err)
		}
	}
	have := map[string]bool{}
	err = s.partitionItems(ctx, snapshotPartition(stream), func(it Item) error {
		_, sk, err := itemKey(it)
		have[sk.String()] = true
		return err
	})
	for _, sn := range snapshots {
		if it := sn.item(); err == nil && !have[it[attrSK].(*types.AttributeValueMemberN).Value] {
			err = b.put(ctx, it)
		}
	}
	if err == nil {
		err = b.flush(ctx)
	}
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", stream, err)
	}
	if err := s.checkRestored(ctx, *m, archived, snapshots); err != nil {
		return false, fmt.Errorf("restore %s: %w", stream, err)
	}
	if err := bw.WriteBatch(ctx, nil, []Item{KeyOf(m.item())}); err != nil {
		return false, fmt.Errorf("restore %s: remove the marker: %w", stream, err)
	}
	return true, nil
}

// checkRestored reads the stream's commits and snapshots back and
// compares them with the archive, byte for byte as the archive encodes
// them.
func (s *Store) checkRestored(ctx context.Context, m marker, archived []commit, snapshots []snapshot) error {
	cs, err := s.allCommits(ctx, m.stream)
	if err != nil {
		return err
	}
	sns, err := s.allSnapshots(ctx, m.stream)
	if err != nil {
		return err
	}
	want, _, err := encodeArchive(m.stream, archived, snapshots)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("no commits read back, the archive %s has %d", m.key, len(archived))
	}
	got, _, err := encodeArchive(m.stream, cs, sns)
	if err != nil || !bytes.Equal(got, want) {
		return fmt.Errorf("the commits and snapshots read back differ from the archive %s", m.key)
	}
	return nil
}

// archivedCommits reads and checks the commits and snapshots of the
// archive a marker names.
func (s *Store) archivedCommits(ctx context.Context, m marker, objects ArchiveObjects) ([]commit, []snapshot, error) {
	obj, err := objects.Get(ctx, m.key)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", m.key, err)
	}
	cs, sns, err := decodeArchive(m.stream, obj, m.sum)
	if err != nil {
		return nil, nil, err
	}
	if cs[len(cs)-1].last() != m.last {
		return nil, nil, fmt.Errorf("archive %s ends at %d, the marker at %d", m.key, cs[len(cs)-1].last(), m.last)
	}
	return cs, sns, nil
}

// ArchiveOf says where the stream's archive is, and false when the stream
// is not archived.
func (s *Store) ArchiveOf(ctx context.Context, stream StreamID) (Archived, bool, error) {
	if err := stream.Validate(); err != nil {
		return Archived{}, false, err
	}
	m, err := s.archiveMarker(ctx, stream)
	if err != nil || m == nil {
		return Archived{}, false, err
	}
	return Archived{Stream: stream, Bucket: m.bucket, Key: m.key, SHA256: m.sum, Last: m.last, At: m.at}, true, nil
}

// errInArchive is what a read of the table meets in an archived stream:
// its marker, or the gap an archival that stopped leaves at its start.
var errInArchive = errors.New("the stream's commits are in an archive")

// inArchive tells, after a read of the table ended in err, whether the
// stream is archived, and then its marker. Only a read that met a sign
// of archival, or (with notFound) found no stream where a marker would
// not have been among what it read, asks the table (one Query of one
// item), so reads of streams that are not archived cost what they did.
// Load and Read always meet the marker: the newest item, and the one
// after every commit.
// A version or time the stream does not reach needs no look: in an
// archived stream the read would have met the marker or the gap first.
func (s *Store) inArchive(ctx context.Context, stream StreamID, err error, notFound bool) (*marker, bool, error) {
	if err == nil || !errors.Is(err, errInArchive) && !(notFound && errors.Is(err, ErrNotFound)) {
		return nil, false, nil
	}
	m, aerr := s.archiveMarker(ctx, stream)
	switch {
	case aerr != nil:
		return nil, false, aerr
	case m != nil:
		return m, true, nil
	case errors.Is(err, errInArchive):
		return nil, false, fmt.Errorf("%w, but %s has no archive marker", err, stream)
	}
	return nil, false, nil
}

// commitsOf reads an archived stream's commits from its archive.
func (s *Store) commitsOf(ctx context.Context, m marker) ([]commit, error) {
	if s.archive == nil {
		return nil, fmt.Errorf("%s is in s3://%s/%s, and this store reads no archives: %w", m.stream, m.bucket, m.key, ErrArchived)
	}
	if m.bucket != s.archive.Bucket() {
		return nil, fmt.Errorf("%s is in bucket %s, this store reads %s: %w", m.stream, m.bucket, s.archive.Bucket(), ErrArchived)
	}
	cs, _, err := s.archivedCommits(ctx, m, s.archive)
	if err != nil {
		return nil, fmt.Errorf("read the archive of %s: %w", m.stream, err)
	}
	return cs, nil
}

// readArchived is Read of an archived stream: the same events, from its
// archive.
func (s *Store) readArchived(ctx context.Context, m marker, from int64, limit int) (EventPage, error) {
	cs, err := s.commitsOf(ctx, m)
	if err != nil {
		return EventPage{}, err
	}
	var page EventPage
	for _, c := range cs {
		for _, e := range c.events {
			if e.Version < from {
				continue
			}
			if len(page.Events) == limit {
				page.Next = e.Version
				return page, nil
			}
			if e, err = s.upcast(e); err != nil {
				return EventPage{}, fmt.Errorf("upcast %s %d: %w", m.stream, e.Version, err)
			}
			page.Events = append(page.Events, e)
		}
	}
	return page, nil
}

// loadArchived is Load of an archived stream: the final state the marker
// keeps, or the fold of the archive when it keeps none of this fold. Its
// head is the last version, where the marker stands: a command decided on
// it is refused as ErrArchived.
func (a *Aggregate[S]) loadArchived(ctx context.Context, m marker) (Current[S], error) {
	head := Head{stream: m.stream, version: m.last, recordedAt: m.recordedAt, observed: true, archived: true}
	if m.foldKey == a.fold.key() {
		if st, ok := a.decodeState(ctx, m.stream, m.last, []byte(m.state)); ok {
			return Current[S]{State: st, Head: head}, nil
		}
	}
	p, err := a.pastArchived(ctx, m, bound{})
	if err != nil {
		return Current[S]{}, err
	}
	return Current[S]{State: p.State, Head: head}, nil
}

// pastArchived is At or AsOf of an archived stream, folded from its
// archive.
func (a *Aggregate[S]) pastArchived(ctx context.Context, m marker, b bound) (Past[S], error) {
	cs, err := a.store.commitsOf(ctx, m)
	if err != nil {
		return Past[S]{}, err
	}
	if b.hasTime {
		n := 0
		for n < len(cs) && !cs[n].recordedAt.After(b.time) {
			n++
		}
		cs = cs[:n]
	}
	r := replayed[S]{state: a.fold.initial()}
	if err := a.foldCommits(ctx, &r, cs, b); err != nil {
		return Past[S]{}, err
	}
	switch {
	case b.hasTime && r.version == 0:
		return Past[S]{}, fmt.Errorf("%s as of %s: %w", m.stream, b.time.Format(time.RFC3339Nano), ErrVersionNotFound)
	case b.version > 0 && r.version < b.version:
		return Past[S]{}, fmt.Errorf("%s at %d (head %d): %w", m.stream, b.version, r.version, ErrVersionNotFound)
	}
	return Past[S]{State: r.state, Version: r.version, RecordedAt: r.recordedAt}, nil
}
