package eventstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryObjects is an in-memory ArchiveObjects, for tests.
type MemoryObjects struct {
	name    string
	mu      sync.Mutex
	objects map[string][]byte
}

// NewMemoryObjects returns an empty bucket of that name.
func NewMemoryObjects(bucket string) *MemoryObjects {
	return &MemoryObjects{name: bucket, objects: map[string][]byte{}}
}

func (m *MemoryObjects) Bucket() string { return m.name }

func (m *MemoryObjects) Put(ctx context.Context, key string, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = slices.Clone(body)
	return nil
}

func (m *MemoryObjects) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("%s/%s: %w", m.name, key, ErrNotFound)
	}
	return slices.Clone(b), nil
}
