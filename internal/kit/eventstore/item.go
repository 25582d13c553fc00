package eventstore

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is one DynamoDB item. Both backends store exactly these, so the
// in-memory one keys and sizes commits as DynamoDB does.
type Item = map[string]types.AttributeValue

// Attribute names are short because DynamoDB counts them in every item's
// size, and a commit's events repeat theirs. They are the store's alone:
// other packages read the table through its operations (commits.go), so
// the layout can change here without them noticing.
const (
	attrPK   = "pk"
	attrSK   = "sk"
	attrKind = "kind"

	// commits
	attrCommitID    = "cid"
	attrLast        = "last"
	attrRecordedAt  = "ra"
	attrTenant      = "ten"
	attrActor       = "act"
	attrCommand     = "cmd"
	attrCorrelation = "cor"
	attrCausation   = "cau"
	attrTrace       = "tr"
	attrEvents      = "ev"
	evID            = "id"
	evType          = "t"
	evSchema        = "sv"
	evOccurredAt    = "oa"
	evData          = "d"

	// snapshots
	attrFoldKey = "fk"
	attrVersion = "ver"
	attrState   = "st"

	// guards
	attrGuardStream  = "gs"
	attrGuardVersion = "gv"
	attrOutcome      = "out"
	attrFingerprint  = "fp"
)

// Item kinds. Every item carries one so that filters and scans never mistake
// one for another; the fan-out forwards only commits.
const (
	kindCommit   = "commit"
	kindSnapshot = "snapshot"
	kindGuard    = "guard"
)

const timeLayout = time.RFC3339Nano

// SortKey orders a partition. A stream's partition holds its commits at
// the version of their first event (and, in tables written before
// snapshots moved, snapshots of the state at version v at v+0.5, between
// the commit that ends at v and the next one). A stream's snapshot
// partition orders its snapshots by time: Time, in Unix nanoseconds, then
// Version, written as one integer (Time followed by Version in 18 digits),
// so that a Query by key finds the latest snapshot recorded up to a time.
type SortKey struct {
	Version int64
	Half    bool
	Time    int64 // > 0 only in a snapshot partition
}

// timeKeyDigits is how many digits of a time key hold the version.
const timeKeyDigits = 18

func commitKey(v int64) SortKey   { return SortKey{Version: v} }
func snapshotKey(v int64) SortKey { return SortKey{Version: v, Half: true} }

// timeKey is the key of a snapshot at version v recorded at t. Times
// outside what Unix nanoseconds hold are clamped, which keeps the order.
func timeKey(t time.Time, v int64) SortKey {
	return SortKey{Time: unixNanos(t), Version: v}
}

var (
	minKeyTime = time.Unix(0, 1)
	maxKeyTime = time.Unix(0, math.MaxInt64)
)

func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(minKeyTime):
		return 1
	case t.After(maxKeyTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// maxKeyVersion is the greatest version a time key holds.
const maxKeyVersion = 999_999_999_999_999_999

// String is the key as a DynamoDB number.
func (k SortKey) String() string {
	if k.Time > 0 {
		return fmt.Sprintf("%d%0*d", k.Time, timeKeyDigits, k.Version)
	}
	if k.Half {
		return strconv.FormatInt(k.Version, 10) + ".5"
	}
	return strconv.FormatInt(k.Version, 10)
}

// Less orders sort keys as DynamoDB orders the numbers.
func (k SortKey) Less(o SortKey) bool {
	if k.Time != o.Time {
		return k.Time < o.Time
	}
	if k.Version != o.Version {
		return k.Version < o.Version
	}
	return !k.Half && o.Half
}

// ParseSortKey reads a sort key written by SortKey.String.
func ParseSortKey(s string) (SortKey, error) {
	if len(s) > timeKeyDigits {
		t, errT := strconv.ParseInt(s[:len(s)-timeKeyDigits], 10, 64)
		v, errV := strconv.ParseInt(s[len(s)-timeKeyDigits:], 10, 64)
		if errT == nil && errV == nil && t > 0 && v >= 0 {
			return SortKey{Time: t, Version: v}, nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return SortKey{Version: n}, nil
	}
	if len(s) > 2 && s[len(s)-2:] == ".5" {
		if n, err := strconv.ParseInt(s[:len(s)-2], 10, 64); err == nil {
			return SortKey{Version: n, Half: true}, nil
		}
	}
	return SortKey{}, fmt.Errorf("sort key %q is not a version, a version and a half, or a time and a version", s)
}

// itemKey returns an item's partition and sort keys.
func itemKey(it Item) (string, SortKey, error) {
	pk, err := str(it, attrPK)
	if err != nil {
		return "", SortKey{}, err
	}
	n, ok := it[attrSK].(*types.AttributeValueMemberN)
	if !ok {
		return "", SortKey{}, fmt.Errorf("item %s has no numeric sort key", pk)
	}
	sk, err := ParseSortKey(n.Value)
	return pk, sk, err
}

// KeyOf returns the key attributes of an item, as DynamoDB's Key maps.
func KeyOf(it Item) Item {
	return Item{attrPK: it[attrPK], attrSK: it[attrSK]}
}

// CommitAt returns the stream key and first version of the commit at an
// item's key (the key attributes a stream record carries, or the whole
// item) without decoding the commit: what still names a commit whose
// attributes do not decode, for a repair that reads it again later. A key
// that cannot be a commit's (a snapshot's, one without a version) is an
// error; the stream key is returned as stored, unchecked.
func CommitAt(key Item) (stream string, version int64, err error) {
	pk, sk, err := itemKey(key)
	if err != nil {
		return "", 0, err
	}
	if sk.Half || sk.Time > 0 || sk.Version < 1 {
		return "", 0, fmt.Errorf("item %s at %s: not a commit's key", pk, sk)
	}
	return pk, sk.Version, nil
}

// kindOf returns an item's kind attribute.
func kindOf(it Item) string {
	s, _ := it[attrKind].(*types.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func putOptional(it Item, name, v string) {
	if v != "" {
		it[name] = s(v)
	}
}

func str(it Item, name string) (string, error) {
	v, ok := it[name].(*types.AttributeValueMemberS)
	if !ok {
		return "", fmt.Errorf("attribute %s is missing or not a string", name)
	}
	return v.Value, nil
}

func optStr(it Item, name string) string {
	v, _ := it[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func num(it Item, name string) (int64, error) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is missing or not a number", name)
	}
	return strconv.ParseInt(v.Value, 10, 64)
}

func timeAttr(it Item, name string) (time.Time, error) {
	v, err := str(it, name)
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(timeLayout, v)
}

// commit is a commit as the store builds and reads it.
type commit struct {
	id         string
	stream     StreamID
	first      int64
	recordedAt time.Time
	meta       Metadata
	events     []Event
	// The fold's state after the commit, kept with it when that costs no
	// write unit more (see withState); empty otherwise.
	foldKey string
	state   []byte
}

func (c commit) last() int64 { return c.first + int64(len(c.events)) - 1 }

func (c commit) item() Item {
	evs := make([]types.AttributeValue, len(c.events))
	for i, e := range c.events {
		m := Item{
			evID:         s(e.ID),
			evType:       s(e.Type),
			evSchema:     n(int64(e.SchemaVersion)),
			evOccurredAt: s(e.OccurredAt.UTC().Format(timeLayout)),
			evData:       s(string(e.Data)),
		}
		evs[i] = &types.AttributeValueMemberM{Value: m}
	}
	it := Item{
		attrPK:         s(c.stream.Key()),
		attrSK:         n(c.first),
		attrKind:       s(kindCommit),
		attrCommitID:   s(c.id),
		attrLast:       n(c.last()),
		attrRecordedAt: s(c.recordedAt.UTC().Format(timeLayout)),
		attrTenant:     s(c.stream.Tenant),
		attrEvents:     &types.AttributeValueMemberL{Value: evs},
	}
	putOptional(it, attrActor, c.meta.Actor)
	putOptional(it, attrCommand, c.meta.CommandID)
	putOptional(it, attrCorrelation, c.meta.CorrelationID)
	putOptional(it, attrCausation, c.meta.CausationID)
	putOptional(it, attrTrace, c.meta.TraceID)
	if len(c.state) > 0 {
		it[attrFoldKey] = s(c.foldKey)
		it[attrState] = s(string(c.state))
	}
	return it
}

// withState returns the commit's item with the state after it when the
// state adds no write unit to the item (DynamoDB bills writes per 1 KB),
// and the item without it otherwise.
func (c commit) withState(foldKey string, state []byte) (commit, Item) {
	plain := c.item()
	c.foldKey, c.state = foldKey, state
	it := c.item()
	if len(state) == 0 || units(ItemSize(it)) != units(ItemSize(plain)) {
		c.foldKey, c.state = "", nil
		return c, plain
	}
	return c, it
}

// units is the write units of an item of size bytes.
func units(size int) int { return max((size+1023)/1024, 1) }

// DecodeCommit reads an item of the events table, as a DynamoDB stream
// record's image carries it, into the commit's events in version order,
// as stored (not upcast). An item of another kind (a snapshot, a guard) is
// ErrNotCommit; a commit that does not decode is another error. The
// fan-out uses it on stream records.
func DecodeCommit(it Item) ([]Event, error) {
	c, err := decodeCommit(it)
	if err != nil {
		return nil, err
	}
	return c.events, nil
}

func decodeCommit(it Item) (commit, error) {
	var c commit
	if k := kindOf(it); k != kindCommit {
		return c, fmt.Errorf("item of kind %q: %w", k, ErrNotCommit)
	}
	pk, sk, err := itemKey(it)
	if err != nil {
		return c, err
	}
	if sk.Half || sk.Version < 1 {
		return c, fmt.Errorf("commit %s has sort key %s", pk, sk)
	}
	if c.stream, err = ParseStreamKey(pk); err != nil {
		return c, err
	}
	c.first = sk.Version
	if c.id, err = str(it, attrCommitID); err != nil {
		return c, fmt.Errorf("commit %s at %d: %w", pk, c.first, err)
	}
	if c.recordedAt, err = timeAttr(it, attrRecordedAt); err != nil {
		return c, fmt.Errorf("commit %s at %d: %w", pk, c.first, err)
	}
	c.foldKey, c.state = optStr(it, attrFoldKey), []byte(optStr(it, attrState))
	c.meta = Metadata{
		CommandID:     optStr(it, attrCommand),
		CorrelationID: optStr(it, attrCorrelation),
		CausationID:   optStr(it, attrCausation),
		Actor:         optStr(it, attrActor),
		TraceID:       optStr(it, attrTrace),
	}
	list, ok := it[attrEvents].(*types.AttributeValueMemberL)
	if !ok || len(list.Value) == 0 {
		return c, fmt.Errorf("commit %s at %d has no events", pk, c.first)
	}
	last, err := num(it, attrLast)
	if err != nil || last != c.first+int64(len(list.Value))-1 {
		return c, fmt.Errorf("commit %s at %d: last version %d does not match %d events", pk, c.first, last, len(list.Value))
	}
	c.events = make([]Event, len(list.Value))
	for i, av := range list.Value {
		m, ok := av.(*types.AttributeValueMemberM)
		if !ok {
			return c, fmt.Errorf("commit %s at %d: event %d is not a map", pk, c.first, i)
		}
		e := Event{
			Stream:     c.stream,
			Version:    c.first + int64(i),
			RecordedAt: c.recordedAt,
			CommitID:   c.id,
			Metadata:   c.meta,
		}
		var sv int64
		var data string
		var errs [5]error
		e.ID, errs[0] = str(m.Value, evID)
		e.Type, errs[1] = str(m.Value, evType)
		sv, errs[2] = num(m.Value, evSchema)
		e.OccurredAt, errs[3] = timeAttr(m.Value, evOccurredAt)
		data, errs[4] = str(m.Value, evData)
		for _, err := range errs {
			if err != nil {
				return c, fmt.Errorf("commit %s at %d: event %d: %w", pk, c.first, i, err)
			}
		}
		e.SchemaVersion = int(sv)
		if !json.Valid([]byte(data)) {
			return c, fmt.Errorf("commit %s at %d: event %d: data is not JSON", pk, c.first, i)
		}
		e.Data = json.RawMessage(data)
		c.events[i] = e
	}
	return c, nil
}

// snapshot is a fold's state at a version, stored in the stream's snapshot
// partition under the time it was recorded.
type snapshot struct {
	stream     StreamID
	version    int64
	recordedAt time.Time
	foldKey    string
	state      []byte
}

// snapshotPartition is where a stream's snapshots live, ordered by time. A
// stream key has three parts, a guard's partition starts with its kind:
// neither can take this name.
func snapshotPartition(stream StreamID) string {
	return kindSnapshot + keySeparator + stream.Key()
}

func (sn snapshot) item() Item {
	return Item{
		attrPK:         s(snapshotPartition(sn.stream)),
		attrSK:         &types.AttributeValueMemberN{Value: timeKey(sn.recordedAt, sn.version).String()},
		attrKind:       s(kindSnapshot),
		attrFoldKey:    s(sn.foldKey),
		attrVersion:    n(sn.version),
		attrRecordedAt: s(sn.recordedAt.UTC().Format(timeLayout)),
		attrState:      s(string(sn.state)),
	}
}

// decodeSnapshot reads a snapshot from its partition, or one that tables
// written before snapshots moved keep in the stream's partition at v+0.5.
func decodeSnapshot(it Item) (snapshot, error) {
	var sn snapshot
	pk, sk, err := itemKey(it)
	if err != nil {
		return sn, err
	}
	if sn.stream, err = ParseStreamKey(strings.TrimPrefix(pk, kindSnapshot+keySeparator)); err != nil {
		return sn, err
	}
	if sn.foldKey, err = str(it, attrFoldKey); err != nil {
		return sn, err
	}
	if sn.version, err = num(it, attrVersion); err != nil {
		return sn, err
	}
	if sn.recordedAt, err = timeAttr(it, attrRecordedAt); err != nil {
		return sn, err
	}
	inPartition := sk.Time > 0 && sk == timeKey(sn.recordedAt, sn.version) && pk == snapshotPartition(sn.stream)
	legacy := sk.Half && sk.Version == sn.version && pk == sn.stream.Key()
	if !inPartition && !legacy {
		return sn, fmt.Errorf("snapshot %s at %s claims version %d recorded at %s", pk, sk, sn.version, sn.recordedAt.Format(timeLayout))
	}
	st, err := str(it, attrState)
	sn.state = []byte(st)
	return sn, err
}

// guard records that a command with an outside identity was applied, and
// where: at the commit it wrote, or at none (its outcome was a refusal).
type guardRecord struct {
	tenant      string
	commandID   string
	stream      StreamID // zero without a commit
	version     int64
	commitID    string // of its commit, or its own without one
	recordedAt  time.Time
	outcome     []byte
	fingerprint string
	expiresAt   time.Time // zero: kept forever
}

func guardPartition(tenant, commandID string) string {
	return kindGuard + keySeparator + tenant + keySeparator + commandID
}

func (g guardRecord) item() Item {
	it := Item{
		attrPK:         s(guardPartition(g.tenant, g.commandID)),
		attrSK:         n(0),
		attrKind:       s(kindGuard),
		attrTenant:     s(g.tenant),
		attrCommand:    s(g.commandID),
		attrCommitID:   s(g.commitID),
		attrRecordedAt: s(g.recordedAt.UTC().Format(timeLayout)),
	}
	if g.stream != (StreamID{}) {
		it[attrGuardStream] = s(g.stream.Key())
		it[attrGuardVersion] = n(g.version)
	}
	if len(g.outcome) > 0 {
		it[attrOutcome] = &types.AttributeValueMemberB{Value: g.outcome}
	}
	if g.fingerprint != "" {
		it[attrFingerprint] = s(g.fingerprint)
	}
	if !g.expiresAt.IsZero() {
		it[ExpiryAttribute] = n(g.expiresAt.Unix())
	}
	return it
}

func decodeGuard(it Item) (guardRecord, error) {
	var g guardRecord
	var err error
	if g.tenant, err = str(it, attrTenant); err != nil {
		return g, err
	}
	if g.commandID, err = str(it, attrCommand); err != nil {
		return g, err
	}
	if g.commitID, err = str(it, attrCommitID); err != nil {
		return g, err
	}
	if key := optStr(it, attrGuardStream); key != "" {
		if g.stream, err = ParseStreamKey(key); err != nil {
			return g, err
		}
		if g.version, err = num(it, attrGuardVersion); err != nil {
			return g, err
		}
	}
	if out, ok := it[attrOutcome].(*types.AttributeValueMemberB); ok {
		g.outcome = out.Value
	}
	g.fingerprint = optStr(it, attrFingerprint)
	return g, nil
}

// applied is what a repeat of the guarded command is told.
func (g guardRecord) applied() *AlreadyAppliedError {
	return &AlreadyAppliedError{CommandID: g.commandID, Stream: g.stream, Version: g.version, Outcome: g.outcome, Fingerprint: g.fingerprint}
}
