// Package idempotency keeps the records behind the Idempotency-Key header:
// who holds a key (a lease longer than the function's timeout), the request
// it was first used for (a fingerprint), and the final response to replay.
// It does not make a command apply once: the event store's guards do that.
// It makes a retried request see the first one's answer.
package idempotency

import (
	"context"
	"errors"
	"time"
)

// States of a record.
const (
	InFlight = "in-flight"
	Done     = "done"
)

// Record is one idempotency key's record.
type Record struct {
	Key         string // tenant-namespaced
	Fingerprint string
	State       string
	Owner       string    // the request holding the lease
	LeaseUntil  time.Time // an in-flight record can be taken over after it
	ExpiresAt   time.Time // the record is forgotten after it
	Response    *Response // set when Done
}

// Response is a final response kept for replay.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body"`
}

// ErrTaken means another request holds the key or already finished with it;
// the existing record comes with it.
var ErrTaken = errors.New("idempotency key taken")

// ErrLeaseLost means the lease expired and another request took the key
// over; this request must not record a response.
var ErrLeaseLost = errors.New("idempotency lease lost")

// Store keeps records. Every implementation checks expiry on read, since
// DynamoDB's TTL deletes expired items late (and moto never).
type Store interface {
	// Acquire writes r (InFlight, owned by r.Owner) unless a live record
	// holds the key: absent, expired and abandoned (in flight past its
	// lease) records are replaced, and the replaced one is returned, so the
	// caller knows an earlier attempt may have applied the command.
	// Otherwise it returns the live record and ErrTaken. A live record of
	// r's own owner is this very acquire, whose answer was lost and which
	// was resent: r holds the key, and since the record it replaced cannot
	// be known any more, its own record is returned as the replaced one,
	// which makes the caller check the guard as after any abandoned
	// attempt.
	Acquire(ctx context.Context, r Record, now time.Time) (*Record, error)
	// Complete records the final response if owner still holds the key.
	Complete(ctx context.Context, key, owner string, resp Response, expiresAt time.Time) error
	// Release gives the key up, so that a retry runs the request again.
	Release(ctx context.Context, key, owner string) error
}
