package views

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"annals/internal/kit/projection"
)

// memoryRows is a view's table in memory: a row per key, each put
// conditional on the stored row's version as the DynamoDB stores' puts
// are, rows copied in and out so that no caller shares one.
type memoryRows[R any] struct {
	mu      sync.Mutex
	rows    map[string]R
	version func(R) int64
	clone   func(R) R
}

func newMemoryRows[R any](version func(R) int64, clone func(R) R) *memoryRows[R] {
	return &memoryRows[R]{rows: map[string]R{}, version: version, clone: clone}
}

func (m *memoryRows[R]) get(k string) (R, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[k]
	return m.clone(r), ok
}

func (m *memoryRows[R]) put(k string, row R, expected int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.rows[k]; ok && m.version(cur) != expected {
		return projection.ErrStale
	}
	m.rows[k] = m.clone(row)
	return nil
}

// where returns a copy of every row keep accepts, in no order.
func (m *memoryRows[R]) where(keep func(R) bool) []R {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []R
	for _, r := range m.rows {
		if keep(r) {
			out = append(out, m.clone(r))
		}
	}
	return out
}

// MemoryAccounts is an AccountStore in memory, with the DynamoDB store's
// semantics (same condition, same ordering), for fast tests.
type MemoryAccounts struct {
	rows *memoryRows[AccountRow]
}

// NewMemoryAccounts returns an empty view.
func NewMemoryAccounts() *MemoryAccounts {
	return &MemoryAccounts{rows: newMemoryRows(func(r AccountRow) int64 { return r.Version }, cloneRow)}
}

func (m *MemoryAccounts) Account(_ context.Context, tenant, accountID string) (AccountRow, bool, error) {
	r, ok := m.rows.get(accountKey(tenant, accountID))
	return r, ok, nil
}

func (m *MemoryAccounts) PutAccount(_ context.Context, row AccountRow, expected int64) error {
	return m.rows.put(accountKey(row.Tenant, row.AccountID), row, expected)
}

func (m *MemoryAccounts) AccountsOfOwner(_ context.Context, tenant, owner string) ([]AccountRow, error) {
	out := m.rows.where(func(r AccountRow) bool { return r.Tenant == tenant && OwnerIndexOf(r.State) == owner && owner != "" })
	slices.SortFunc(out, func(a, b AccountRow) int { return strings.Compare(a.AccountID, b.AccountID) })
	return out, nil
}

func cloneRow(r AccountRow) AccountRow {
	r.UpdatedAt = r.UpdatedAt.UTC()
	r.State.TransfersInFlight = maps.Clone(r.State.TransfersInFlight)
	if r.Quarantine != nil {
		q := *r.Quarantine
		r.Quarantine = &q
	}
	return r
}
