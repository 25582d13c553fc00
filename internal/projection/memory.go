package projection

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
)

// MemoryAccounts is an AccountStore in memory, with the DynamoDB store's
// semantics (same condition, same ordering), for fast tests.
type MemoryAccounts struct {
	mu   sync.Mutex
	rows map[string]AccountRow
}

// NewMemoryAccounts returns an empty view.
func NewMemoryAccounts() *MemoryAccounts {
	return &MemoryAccounts{rows: map[string]AccountRow{}}
}

func (m *MemoryAccounts) Account(_ context.Context, tenant, accountID string) (AccountRow, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[accountKey(tenant, accountID)]
	return cloneRow(r), ok, nil
}

func (m *MemoryAccounts) PutAccount(_ context.Context, row AccountRow, expected int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := accountKey(row.Tenant, row.AccountID)
	if cur, ok := m.rows[k]; ok && cur.Version != expected {
		return ErrStale
	}
	row = cloneRow(row)
	row.UpdatedAt = row.UpdatedAt.UTC()
	m.rows[k] = row
	return nil
}

func (m *MemoryAccounts) AccountsOfOwner(_ context.Context, tenant, owner string) ([]AccountRow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []AccountRow
	for _, r := range m.rows {
		if r.Tenant == tenant && r.State.Owner == owner && owner != "" {
			out = append(out, cloneRow(r))
		}
	}
	slices.SortFunc(out, func(a, b AccountRow) int { return strings.Compare(a.AccountID, b.AccountID) })
	return out, nil
}

func cloneRow(r AccountRow) AccountRow {
	r.State.TransfersInFlight = maps.Clone(r.State.TransfersInFlight)
	if r.Quarantine != nil {
		q := *r.Quarantine
		r.Quarantine = &q
	}
	return r
}
