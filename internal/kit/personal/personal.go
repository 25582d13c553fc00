// Package personal keeps personal data erasable in an event store that
// never changes what it wrote (crypto-shredding). Each data subject has a
// data key of its own; a personal field is stored sealed with it, and
// erasing the subject deletes the key, after which every sealed copy of the
// field (in events, snapshots, views, queues, archives) reads as erased.
// Lookups by a personal value go through blind indexes: keyed hashes that
// reveal nothing once the key is gone. The key store and its cache are
// here; which fields are personal is the domain's to say.
package personal

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrErased: the subject was erased; its key is gone for good.
var ErrErased = errors.New("data subject erased")

// ErrNoKey: the subject has no key (and none was asked to be made).
var ErrNoKey = errors.New("data subject has no key")

// ErasedText is what a sealed field whose subject was erased reads as.
const ErasedText = "[erased]"

// Subject names a data subject: a person whose data is in events, by an
// opaque id of the tenant's choosing (a customer number, never a name).
type Subject struct {
	Tenant string
	ID     string
}

const maxSubjectID = 128

// Validate checks the subject's id: 1 to 128 of letters, digits and
// "._-@+", so that it can stand in a sealed value and a key unquoted.
func (s Subject) Validate() error {
	if s.Tenant == "" {
		return fmt.Errorf("data subject %q: no tenant", s.ID)
	}
	if problem := IDProblem(s.ID); problem != "" {
		return fmt.Errorf("data subject %q: %s", s.ID, problem)
	}
	return nil
}

// IDProblem says what is wrong with a subject id, "" when nothing is.
func IDProblem(id string) string {
	if id == "" || len(id) > maxSubjectID {
		return fmt.Sprintf("must be 1 to %d characters", maxSubjectID)
	}
	for _, r := range id {
		if !subjectRune(r) {
			return "may hold only letters, digits and . _ - @ +"
		}
	}
	return ""
}

func subjectRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	switch r {
	case '.', '_', '-', '@', '+':
		return true
	}
	return false
}

func (s Subject) String() string { return s.Tenant + "/" + s.ID }

// Erasure records that a subject was erased: when and by whom.
type Erasure struct {
	Subject Subject
	At      time.Time
	By      string
}

// KeySize is the length of a data key: AES-256.
const KeySize = 32

// Keys is the key store: a data key per subject, and the lookups that
// find a subject's records by a personal value.
type Keys interface {
	// Key returns the subject's data key (KeySize bytes). Without one, it
	// makes one when create is true and returns ErrNoKey otherwise; an
	// erased subject's is ErrErased.
	Key(ctx context.Context, s Subject, create bool) ([]byte, error)

	// Erase deletes the subject's key and records the erasure, also for a
	// subject that never had one (so that none is made for it later).
	// Erasing again changes nothing and returns the first record. The
	// subject's lookups go with the key.
	Erase(ctx context.Context, s Subject, by string, at time.Time) (Erasure, error)

	// Erasure returns the subject's erasure record, false when it was not
	// erased.
	Erasure(ctx context.Context, s Subject) (Erasure, bool, error)

	// Register notes that the subject has this value of a looked-up field,
	// so that Subjects finds it by the value; ErrErased for an erased
	// subject. Registering again changes nothing.
	Register(ctx context.Context, s Subject, field, value string) error

	// Subjects returns the ids of the subjects, not erased, registered
	// with this value of the field in the tenant, in id order.
	Subjects(ctx context.Context, tenant, field, value string) ([]string, error)
}
