package idempotency_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"annals/internal/kit/idempotency"
	"annals/internal/localaws/awstest"
)

// One contract for both stores: the in-memory one used by the handler's
// unit tests must behave like the DynamoDB one.
func TestMemoryContract(t *testing.T) {
	contract(t, func(t *testing.T) idempotency.Store { return idempotency.NewMemory() })
}

func TestDynamoDBContract(t *testing.T) {
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "IdempotencyTable")
	contract(t, func(t *testing.T) idempotency.Store { return idempotency.NewDynamoDB(db, table) })
}

// An acquire whose write lands but whose answer is lost is resent by the
// SDK; the resend finds the record it wrote and must hold the key, not
// report it taken by someone else.
func TestDynamoDBAcquireSurvivesALostAnswer(t *testing.T) {
	wire := awstest.NewWire()
	wire.Inject = func(op string, n int) *awstest.Fault {
		if op == "PutItem" && n == 1 {
			return awstest.ServerError(true)
		}
		return nil
	}
	db := awstest.DynamoDBOver(t, wire, 3)
	table := awstest.Table(t, awstest.DynamoDB(t), "IdempotencyTable")
	s := idempotency.NewDynamoDB(db, table)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := idempotency.Record{Key: "tenant#lost", Fingerprint: "fp", Owner: "a", LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	old, err := s.Acquire(t.Context(), r, now)
	if err != nil || old == nil || old.Owner != "a" {
		t.Fatalf("acquire after a lost answer: %+v %v, want the key held, with its own record as the replaced one", old, err)
	}
	if got := wire.Counts()["PutItem"]; got != 2 {
		t.Fatalf("%d PutItem requests, want the lost one and its resend", got)
	}
}

var seq atomic.Int64

func contract(t *testing.T, newStore func(*testing.T) idempotency.Store) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := func(owner string) idempotency.Record {
		return idempotency.Record{
			Key: fmt.Sprintf("tenant#key-%d", seq.Add(1)), Fingerprint: "fp-1", Owner: owner,
			LeaseUntil: now.Add(30 * time.Second), ExpiresAt: now.Add(24 * time.Hour),
		}
	}
	resp := idempotency.Response{Status: 201, Headers: map[string]string{"ETag": `"1"`}, Body: `{"ok":true}`}

	t.Run("FirstAcquireWins", func(t *testing.T) {
		s := newStore(t)
		r := rec("a")
		if old, err := s.Acquire(t.Context(), r, now); err != nil || old != nil {
			t.Fatalf("first acquire: %v %v, want no previous record", old, err)
		}
		b := r
		b.Owner, b.Fingerprint = "b", "fp-2"
		old, err := s.Acquire(t.Context(), b, now.Add(time.Second))
		if !errors.Is(err, idempotency.ErrTaken) || old == nil {
			t.Fatalf("second acquire: %v %v, want ErrTaken with the record", old, err)
		}
		if old.State != idempotency.InFlight || old.Owner != "a" || old.Fingerprint != "fp-1" {
			t.Errorf("existing record %+v, want a's in-flight record", old)
		}
	})
	t.Run("AcquireResentFindsItsOwnRecord", func(t *testing.T) {
		s := newStore(t)
		r := rec("a")
		if _, err := s.Acquire(t.Context(), r, now); err != nil {
			t.Fatal(err)
		}
		// The same acquire again, as after a lost answer: the key is held
		// by it, and what it replaced is unknown, so its own record comes
		// back as the replaced one (the caller then checks the guard).
		old, err := s.Acquire(t.Context(), r, now.Add(time.Second))
		if err != nil || old == nil || old.Owner != "a" || old.State != idempotency.InFlight {
			t.Fatalf("resent acquire: %+v %v, want its own in-flight record and no error", old, err)
		}
		if err := s.Complete(t.Context(), r.Key, "a", resp, now.Add(24*time.Hour)); err != nil {
			t.Fatalf("complete after a resent acquire: %v", err)
		}
	})
	t.Run("DoneIsReplayedWithItsFingerprint", func(t *testing.T) {
		s := newStore(t)
		r := rec("a")
		if _, err := s.Acquire(t.Context(), r, now); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(t.Context(), r.Key, "a", resp, now.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		b := r
		b.Owner = "b"
		old, err := s.Acquire(t.Context(), b, now.Add(time.Hour)) // long after the lease
		if !errors.Is(err, idempotency.ErrTaken) || old.State != idempotency.Done || old.Response == nil {
			t.Fatalf("acquire after completion: %+v %v", old, err)
		}
		if old.Fingerprint != "fp-1" || old.Response.Status != 201 || old.Response.Body != resp.Body || old.Response.Headers["ETag"] != `"1"` {
			t.Errorf("replayed record %+v %+v", old, old.Response)
		}
	})
	t.Run("AbandonedLeaseIsTakenOver", func(t *testing.T) {
		s := newStore(t)
		r := rec("a")
		if _, err := s.Acquire(t.Context(), r, now); err != nil {
			t.Fatal(err)
		}
		b := r
		b.Owner = "b"
		b.LeaseUntil = now.Add(90 * time.Second)
		old, err := s.Acquire(t.Context(), b, now.Add(31*time.Second))
		if err != nil || old == nil || old.Owner != "a" || old.State != idempotency.InFlight {
			t.Fatalf("take over after the lease: %+v %v, want a's abandoned record back", old, err)
		}
		if err := s.Complete(t.Context(), r.Key, "a", resp, now.Add(time.Hour)); !errors.Is(err, idempotency.ErrLeaseLost) {
			t.Errorf("the old owner completes: %v, want ErrLeaseLost", err)
		}
		if err := s.Complete(t.Context(), r.Key, "b", resp, now.Add(time.Hour)); err != nil {
			t.Errorf("the new owner completes: %v", err)
		}
	})
	t.Run("ExpiredRecordIsForgottenOnRead", func(t *testing.T) {
		s := newStore(t)
		r := rec("a")
		if _, err := s.Acquire(t.Context(), r, now); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(t.Context(), r.Key, "a", resp, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		b := r
		b.Owner, b.Fingerprint = "b", "fp-2"
		if old, err := s.Acquire(t.Context(), b, now.Add(2*time.Minute)); err != nil {
			t.Fatalf("acquire after expiry: %v %v, want a fresh record", old, err)
		}
	})
	t.Run("ReleaseLetsARetryRunAgain", func(t *testing.T) {
		s := newStore(t)
		r := rec("a")
		if _, err := s.Acquire(t.Context(), r, now); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(t.Context(), r.Key, "b"); !errors.Is(err, idempotency.ErrLeaseLost) {
			t.Errorf("release by another owner: %v, want ErrLeaseLost", err)
		}
		if err := s.Release(t.Context(), r.Key, "a"); err != nil {
			t.Fatal(err)
		}
		b := r
		b.Owner = "b"
		if _, err := s.Acquire(t.Context(), b, now.Add(time.Second)); err != nil {
			t.Errorf("acquire after release: %v", err)
		}
	})
}
