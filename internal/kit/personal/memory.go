package personal

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"time"
)

// MemoryKeys is the key store in memory, for tests and the local tools.
// The contract suite (personaltest) holds it to the DynamoDB one.
type MemoryKeys struct {
	mu      sync.Mutex
	keys    map[Subject][]byte
	erased  map[Subject]Erasure
	lookups map[lookup]map[string]bool // subject ids by value
	byOwner map[Subject][]lookup
}

type lookup struct{ tenant, field, value string }

// NewMemoryKeys returns an empty key store.
func NewMemoryKeys() *MemoryKeys {
	return &MemoryKeys{
		keys:    map[Subject][]byte{},
		erased:  map[Subject]Erasure{},
		lookups: map[lookup]map[string]bool{},
		byOwner: map[Subject][]lookup{},
	}
}

// Key is Keys.Key.
func (m *MemoryKeys) Key(_ context.Context, s Subject, create bool) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.erased[s]; ok {
		return nil, ErrErased
	}
	if k, ok := m.keys[s]; ok {
		return slices.Clone(k), nil
	}
	if !create {
		return nil, ErrNoKey
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	m.keys[s] = k
	return slices.Clone(k), nil
}

// Erase is Keys.Erase.
func (m *MemoryKeys) Erase(_ context.Context, s Subject, by string, at time.Time) (Erasure, error) {
	if err := s.Validate(); err != nil {
		return Erasure{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.erased[s]; ok {
		return e, nil
	}
	e := Erasure{Subject: s, At: at.UTC(), By: by}
	m.erased[s] = e
	delete(m.keys, s)
	for _, l := range m.byOwner[s] {
		delete(m.lookups[l], s.ID)
		if len(m.lookups[l]) == 0 {
			delete(m.lookups, l)
		}
	}
	delete(m.byOwner, s)
	return e, nil
}

// Erasure is Keys.Erasure.
func (m *MemoryKeys) Erasure(_ context.Context, s Subject) (Erasure, bool, error) {
	if err := s.Validate(); err != nil {
		return Erasure{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.erased[s]
	return e, ok, nil
}

// Register is Keys.Register.
func (m *MemoryKeys) Register(_ context.Context, s Subject, field, value string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.erased[s]; ok {
		return ErrErased
	}
	l := lookup{s.Tenant, field, value}
	if m.lookups[l] == nil {
		m.lookups[l] = map[string]bool{}
	}
	if !m.lookups[l][s.ID] {
		m.lookups[l][s.ID] = true
		m.byOwner[s] = append(m.byOwner[s], l)
	}
	return nil
}

// Subjects is Keys.Subjects.
func (m *MemoryKeys) Subjects(_ context.Context, tenant, field, value string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id := range m.lookups[lookup{tenant, field, value}] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}
