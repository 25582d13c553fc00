package projection

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"annals/internal/transfer"
)

// MemoryTransfers is a TransferStore in memory, with the DynamoDB store's
// semantics, for fast tests.
type MemoryTransfers struct {
	mu   sync.Mutex
	rows map[string]TransferRow
}

// NewMemoryTransfers returns an empty view.
func NewMemoryTransfers() *MemoryTransfers {
	return &MemoryTransfers{rows: map[string]TransferRow{}}
}

func (m *MemoryTransfers) Transfer(_ context.Context, tenant, id string) (TransferRow, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[transferKey(tenant, id)]
	return cloneTransfer(r), ok, nil
}

func (m *MemoryTransfers) PutTransfer(_ context.Context, row TransferRow, expected int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := transferKey(row.Tenant, row.TransferID)
	if cur, ok := m.rows[k]; ok && cur.Version != expected {
		return ErrStale
	}
	row = cloneTransfer(row)
	row.UpdatedAt = row.UpdatedAt.UTC()
	m.rows[k] = row
	return nil
}

func (m *MemoryTransfers) PendingBefore(_ context.Context, before time.Time, from transfer.Stuck, limit int) ([]transfer.Stuck, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Request time, then the table's key: a total order, as the index's
	// is (DynamoDB does not say how it orders equal request times).
	order := func(a, b transfer.Stuck) int {
		return cmp.Or(a.RequestedAt.Compare(b.RequestedAt),
			strings.Compare(transferKey(a.Tenant, a.TransferID), transferKey(b.Tenant, b.TransferID)))
	}
	var out []transfer.Stuck
	for _, r := range m.rows {
		s := transfer.Stuck{Tenant: r.Tenant, TransferID: r.TransferID, RequestedAt: r.State.RequestedAt}
		if r.State.Transfer.Status == transfer.StatusPending && !s.RequestedAt.IsZero() && s.RequestedAt.Before(before) &&
			(from.TransferID == "" || order(s, from) > 0) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, order)
	return out[:min(len(out), limit)], nil
}

func cloneTransfer(r TransferRow) TransferRow {
	if r.Quarantine != nil {
		q := *r.Quarantine
		r.Quarantine = &q
	}
	return r
}
