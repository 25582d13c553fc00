package eventstore

import (
	"errors"
	"fmt"
)

// Sentinels for what callers branch on. Typed errors below wrap them and add
// the context that matters.
var (
	// ErrConflict: the expected head is no longer the head; reload and
	// decide again.
	ErrConflict = errors.New("conflict: the stream moved past the expected head")
	// ErrNotFound: the stream has no commits.
	ErrNotFound = errors.New("stream not found")
	// ErrVersionNotFound: the stream exists but not at that version or time.
	ErrVersionNotFound = errors.New("version not found")
	// ErrTooLarge: a commit or transaction is over DynamoDB's size limits; it
	// was refused before anything was written.
	ErrTooLarge = errors.New("too large")
	// ErrAlreadyApplied: a guarded command ran before; see AlreadyAppliedError
	// for its recorded outcome.
	ErrAlreadyApplied = errors.New("command already applied")
	// ErrInFlight: another request is writing the same guarded command at
	// this moment; its outcome will be recorded shortly.
	ErrInFlight = errors.New("command in flight")
	// ErrInvalid: the request is malformed (bad id, empty commit, bad head).
	ErrInvalid = errors.New("invalid")
	// ErrUnknownOutcome: the write was sent but no definite answer came back
	// before the deadline. It may or may not have been applied; it must be
	// resent identically, never decided again.
	ErrUnknownOutcome = errors.New("write outcome unknown")
	// ErrThrottled: the backend refused for capacity; retry later.
	ErrThrottled = errors.New("throttled")
	// ErrUnavailable: a read failed for a reason that may pass (a 5xx, a
	// timeout); nothing was changed, retry later.
	ErrUnavailable = errors.New("backend unavailable")
	// ErrNotCommit: an item of the events table is of another kind (a
	// snapshot, a guard), which only the store reads.
	ErrNotCommit = errors.New("not a commit")
)

// ConflictError names the stream and the version that was taken.
type ConflictError struct {
	Stream  StreamID
	Version int64 // the version the commit wanted to start at

	taken Item // the commit that holds that version, as the write found it
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("append %s at %d: %v", e.Stream, e.Version, ErrConflict)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// AlreadyAppliedError carries what a guarded command recorded the first
// time it ran.
type AlreadyAppliedError struct {
	CommandID string
	// Stream and Version locate the first event of the commit it guarded;
	// both are zero for an outcome recorded without a commit.
	Stream      StreamID
	Version     int64
	Outcome     []byte
	Fingerprint string // of the request that ran, if its guard had one

	conflicted bool // a commit of the repeat met another one in its place
}

func (e *AlreadyAppliedError) Error() string {
	if e.Stream == (StreamID{}) {
		return fmt.Sprintf("command %s: %v", e.CommandID, ErrAlreadyApplied)
	}
	return fmt.Sprintf("command %s: %v at %s version %d", e.CommandID, ErrAlreadyApplied, e.Stream, e.Version)
}

func (e *AlreadyAppliedError) Unwrap() error { return ErrAlreadyApplied }

// TooLargeError says by how much a write is over a limit.
type TooLargeError struct {
	What  string // "commit of <stream> at <version>", "transaction"
	Size  int
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, over the limit of %d: %v", e.What, e.Size, e.Limit, ErrTooLarge)
}

func (e *TooLargeError) Unwrap() error { return ErrTooLarge }
