package views

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// MemoryTransfers is a TransferStore in memory, with the DynamoDB store's
// semantics, for fast tests.
type MemoryTransfers struct {
	rows *memoryRows[TransferRow]
}

// NewMemoryTransfers returns an empty view.
func NewMemoryTransfers() *MemoryTransfers {
	return &MemoryTransfers{rows: newMemoryRows(func(r TransferRow) int64 { return r.Version }, cloneTransfer)}
}

func (m *MemoryTransfers) Transfer(_ context.Context, tenant, id string) (TransferRow, bool, error) {
	r, ok := m.rows.get(transferKey(tenant, id))
	return r, ok, nil
}

func (m *MemoryTransfers) PutTransfer(_ context.Context, row TransferRow, expected int64) error {
	return m.rows.put(transferKey(row.Tenant, row.TransferID), row, expected)
}

func (m *MemoryTransfers) PendingBefore(_ context.Context, before time.Time, from app.Stuck, limit int) ([]app.Stuck, error) {
	// Request time, then the table's key: a total order, as the index's
	// is (DynamoDB does not say how it orders equal request times).
	order := func(a, b app.Stuck) int {
		return cmp.Or(a.RequestedAt.Compare(b.RequestedAt),
			strings.Compare(transferKey(a.Tenant, a.TransferID), transferKey(b.Tenant, b.TransferID)))
	}
	var out []app.Stuck
	for _, r := range m.rows.where(func(r TransferRow) bool { return r.State.Transfer.Status == transfer.StatusPending }) {
		s := app.Stuck{Tenant: r.Tenant, TransferID: r.TransferID, RequestedAt: r.State.RequestedAt}
		if !s.RequestedAt.IsZero() && s.RequestedAt.Before(before) && (from.TransferID == "" || order(s, from) > 0) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, order)
	return out[:min(len(out), limit)], nil
}

func cloneTransfer(r TransferRow) TransferRow {
	r.UpdatedAt = r.UpdatedAt.UTC()
	if r.Quarantine != nil {
		q := *r.Quarantine
		r.Quarantine = &q
	}
	return r
}
