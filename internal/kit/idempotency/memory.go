package idempotency

import (
	"context"
	"fmt"
	"sync"
	"time"

	"annals/internal/kit/eventstore"
)

// Memory is an in-memory Store for unit tests, held to the same contract as
// the DynamoDB one. It meters each call as the DynamoDB request it stands
// for (records here are small: one write unit).
type Memory struct {
	mu      sync.Mutex
	records map[string]Record
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{records: map[string]Record{}} }

func live(r Record, now time.Time) bool {
	if !now.Before(r.ExpiresAt) {
		return false
	}
	return r.State == Done || now.Before(r.LeaseUntil)
}

func (m *Memory) Acquire(ctx context.Context, r Record, now time.Time) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	eventstore.Record(ctx, "PutItem", 0, 1)
	old, ok := m.records[r.Key]
	if ok && live(old, now) {
		if old.Owner == r.Owner {
			return &old, nil
		}
		return &old, ErrTaken
	}
	r.State, r.Response = InFlight, nil
	m.records[r.Key] = r
	if ok {
		return &old, nil
	}
	return nil, nil
}

func (m *Memory) Complete(ctx context.Context, key, owner string, resp Response, expiresAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	eventstore.Record(ctx, "UpdateItem", 0, 1)
	r, ok := m.records[key]
	if !ok || r.Owner != owner {
		return fmt.Errorf("complete %s: %w", key, ErrLeaseLost)
	}
	r.State, r.Response, r.ExpiresAt = Done, &resp, expiresAt
	m.records[key] = r
	return nil
}

func (m *Memory) Release(ctx context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	eventstore.Record(ctx, "DeleteItem", 0, 1)
	r, ok := m.records[key]
	if !ok || r.Owner != owner {
		return fmt.Errorf("release %s: %w", key, ErrLeaseLost)
	}
	delete(m.records, key)
	return nil
}
