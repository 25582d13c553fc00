// Package eventstore owns the system of record: streams of immutable events,
// stored one item per commit with conditional writes, read back gapless,
// folded into state (from snapshots when they fit), and guarded so that a
// command with an outside identity applies at most once. It knows nothing of
// any domain; a domain brings its Fold.
//
// Storage goes through a Backend of DynamoDB-shaped items. The DynamoDB
// adapter lives in eventstore/dynamostore; NewMemoryBackend keys and sizes
// items exactly the same way, and one contract suite (eventstore/storetest)
// runs against both. The item layout is the store's own: the repairs and
// the fan-out read whole commits through its operations (ScanCommits,
// ReadCommits, ReadCommitsAfter, DecodeCommit, CommitAt), never by
// attribute.
package eventstore

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// StreamID names one stream: one aggregate instance of one tenant.
type StreamID struct {
	Tenant   string
	Category string // the kind of aggregate, e.g. "account"
	ID       string
}

const (
	keySeparator    = "#"
	maxIDPartLength = 128
)

// NewStreamID builds and validates a stream id.
func NewStreamID(tenant, category, id string) (StreamID, error) {
	s := StreamID{Tenant: tenant, Category: category, ID: id}
	return s, s.Validate()
}

// Validate reports whether every part is non-empty, at most 128 bytes of
// printable UTF-8, and free of the key separator.
func (s StreamID) Validate() error {
	for _, p := range []struct{ name, v string }{{"tenant", s.Tenant}, {"category", s.Category}, {"id", s.ID}} {
		if err := validPart(p.v); err != nil {
			return fmt.Errorf("%w: stream %s %q %v", ErrInvalid, p.name, p.v, err)
		}
	}
	return nil
}

func validPart(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("is empty")
	case len(v) > maxIDPartLength:
		return fmt.Errorf("is longer than %d bytes", maxIDPartLength)
	case !utf8.ValidString(v):
		return fmt.Errorf("is not UTF-8")
	case strings.Contains(v, keySeparator):
		return fmt.Errorf("contains %q", keySeparator)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("contains a non-printable character")
		}
	}
	return nil
}

// Key is the stream's partition key in the events table.
func (s StreamID) Key() string {
	return s.Tenant + keySeparator + s.Category + keySeparator + s.ID
}

func (s StreamID) String() string { return s.Key() }

// ParseStreamKey is the inverse of StreamID.Key.
func ParseStreamKey(key string) (StreamID, error) {
	parts := strings.Split(key, keySeparator)
	if len(parts) != 3 {
		return StreamID{}, fmt.Errorf("%w: stream key %q is not tenant#category#id", ErrInvalid, key)
	}
	return NewStreamID(parts[0], parts[1], parts[2])
}
