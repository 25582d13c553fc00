package views

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"annals/internal/kit/projection"
)

// MemoryStatements is a StatementStore in memory, with the DynamoDB store's
// semantics, for fast tests.
type MemoryStatements struct {
	mu       sync.Mutex
	accounts map[string]*memoryStatements
}

type memoryStatements struct {
	head StatementHead
	days map[string]StatementDay
}

// NewMemoryStatements returns an empty statement view.
func NewMemoryStatements() *MemoryStatements {
	return &MemoryStatements{accounts: map[string]*memoryStatements{}}
}

func (m *MemoryStatements) Head(_ context.Context, tenant, accountID string) (StatementHead, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[accountKey(tenant, accountID)]
	if !ok {
		return StatementHead{}, false, nil
	}
	return cloneHead(a.head), true, nil
}

func (m *MemoryStatements) SaveDays(_ context.Context, tenant, accountID string, days []StatementDay, head StatementHead, expected int64) error {
	if err := checkDays(tenant, accountID, days, head, expected); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := accountKey(tenant, accountID)
	a, ok := m.accounts[k]
	if ok && a.head.Position.Version != expected {
		return fmt.Errorf("save statements of %s at %d: %w", k, expected, projection.ErrStale)
	}
	if !ok {
		a = &memoryStatements{days: map[string]StatementDay{}}
		m.accounts[k] = a
	}
	for _, d := range days {
		a.days[d.Date] = d
	}
	a.head = cloneHead(head)
	if len(a.head.InFlight) == 0 {
		a.head.InFlight = nil
	}
	return nil
}

func (m *MemoryStatements) Days(_ context.Context, tenant, accountID, from, to string) ([]StatementDay, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[accountKey(tenant, accountID)]
	if !ok {
		return nil, nil
	}
	var out []StatementDay
	for _, date := range slices.Sorted(maps.Keys(a.days)) {
		if date >= from && date <= to {
			out = append(out, a.days[date])
		}
	}
	return out, nil
}

func (m *MemoryStatements) DayBefore(_ context.Context, tenant, accountID, date string) (StatementDay, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[accountKey(tenant, accountID)]
	if !ok {
		return StatementDay{}, false, nil
	}
	var before []string
	for d := range a.days {
		if d < date {
			before = append(before, d)
		}
	}
	if len(before) == 0 {
		return StatementDay{}, false, nil
	}
	return a.days[slices.Max(before)], true, nil
}
