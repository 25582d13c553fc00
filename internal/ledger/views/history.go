package views

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"annals/internal/kit/projection"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// HistoryView is the name of the transaction history in logs and dead
// letters.
const HistoryView = "history"

// Kinds of a history entry.
const (
	KindDeposit    = "deposit"
	KindWithdrawal = "withdrawal"
)

// HistoryEntry is one money movement of an account, as its event recorded
// it: the history is a read of the audit trail, never a second bookkeeping.
type HistoryEntry struct {
	Tenant    string
	AccountID string // the account stream's id
	// Version is the event's stream version: entries sort by it, and it is
	// unique within the account.
	Version      int64
	EventID      string
	Kind         string // KindDeposit or KindWithdrawal
	Amount       int64  // minor units, always positive; Kind gives the sign
	BalanceAfter int64
	Reference    string
	TransferID   string // set when the movement is a leg of a transfer
	OccurredAt   time.Time
	RecordedAt   time.Time
}

// HistoryStore is where the transaction history lives. The DynamoDB table
// is the real one; the in-memory one serves fast tests, and one contract
// suite runs against both.
type HistoryStore interface {
	// Position returns the account's position (consistent read), or found
	// false when nothing was applied yet.
	Position(ctx context.Context, tenant, accountID string) (pos projection.Position, found bool, err error)
	// AppendHistory writes entries (all of the account, versions above
	// expected, ascending) and moves the position from expected to pos, all
	// or nothing; it fails with ErrStale if the position is not expected
	// (or not absent, for expected 0).
	AppendHistory(ctx context.Context, tenant, accountID string, entries []HistoryEntry, pos projection.Position, expected int64) error
	// Transactions returns up to limit entries of the account, newest
	// first, with versions below before (0: from the newest).
	Transactions(ctx context.Context, tenant, accountID string, before int64, limit int) ([]HistoryEntry, error)
}

// NewHistory returns the transaction history over store: per account
// stream, one entry per MoneyDeposited and MoneyWithdrawn event, written
// with the position in one conditional write. Gaps are filled from events;
// poison goes to dead.
func NewHistory(store HistoryStore, events projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) *projection.Projection[[]HistoryEntry] {
	return projection.New(HistoryView, app.AccountCategory, historyModel{store}, events, dead, log)
}

// historyModel folds account streams into history entries. Its state is
// the entries not stored yet: a stored entry never changes.
type historyModel struct{ store HistoryStore }

func (m historyModel) Load(ctx context.Context, stream eventstore.StreamID) ([]HistoryEntry, projection.Position, error) {
	pos, _, err := m.store.Position(ctx, stream.Tenant, stream.ID)
	return nil, pos, err
}

func (historyModel) Fold(s []HistoryEntry, e projection.Event) ([]HistoryEntry, error) {
	if e.Type != account.TypeMoneyDeposited && e.Type != account.TypeMoneyWithdrawn {
		return s, nil
	}
	ev, err := projection.Decoded(e, app.Decode)
	if err != nil {
		return s, err
	}
	entry := HistoryEntry{
		Tenant: e.Stream.Tenant, AccountID: e.Stream.ID, Version: e.Version, EventID: e.ID,
		OccurredAt: e.OccurredAt.UTC(), RecordedAt: e.RecordedAt.UTC(),
	}
	switch ev := ev.(type) {
	case account.MoneyDeposited:
		entry.Kind, entry.Amount, entry.BalanceAfter, entry.Reference, entry.TransferID = KindDeposit, ev.Amount, ev.BalanceAfter, ev.Reference, ev.TransferID
	case account.MoneyWithdrawn:
		entry.Kind, entry.Amount, entry.BalanceAfter, entry.Reference, entry.TransferID = KindWithdrawal, ev.Amount, ev.BalanceAfter, ev.Reference, ev.TransferID
	default:
		return s, fmt.Errorf("event type %s decoded as %T", e.Type, ev)
	}
	// Appending may write past s's end, never into s: s stays as it was,
	// and the engine folds on from each state once (Kept keeps none).
	return append(s, entry), nil
}

func (m historyModel) Save(ctx context.Context, stream eventstore.StreamID, s []HistoryEntry, pos projection.Position, expected int64) error {
	return m.store.AppendHistory(ctx, stream.Tenant, stream.ID, s, pos, expected)
}

// Kept is nothing: the history's state is the entries not stored yet.
func (historyModel) Kept([]HistoryEntry, projection.Position) []HistoryEntry { return nil }

// MemoryHistory is a HistoryStore in memory, with the DynamoDB store's
// semantics, for fast tests.
type MemoryHistory struct {
	mu       sync.Mutex
	accounts map[string]*memoryHistory
}

type memoryHistory struct {
	pos     projection.Position
	entries map[int64]HistoryEntry
}

// NewMemoryHistory returns an empty history.
func NewMemoryHistory() *MemoryHistory {
	return &MemoryHistory{accounts: map[string]*memoryHistory{}}
}

func (m *MemoryHistory) Position(_ context.Context, tenant, accountID string) (projection.Position, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[accountKey(tenant, accountID)]
	if !ok {
		return projection.Position{}, false, nil
	}
	return clonePosition(a.pos), true, nil
}

func (m *MemoryHistory) AppendHistory(_ context.Context, tenant, accountID string, entries []HistoryEntry, pos projection.Position, expected int64) error {
	if err := checkEntries(tenant, accountID, entries, pos, expected); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := accountKey(tenant, accountID)
	a, ok := m.accounts[k]
	if ok && a.pos.Version != expected {
		return fmt.Errorf("append history of %s at %d: %w", k, expected, projection.ErrStale)
	}
	if !ok {
		a = &memoryHistory{entries: map[int64]HistoryEntry{}}
		m.accounts[k] = a
	}
	for _, e := range entries {
		e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
		a.entries[e.Version] = e
	}
	a.pos = clonePosition(pos)
	a.pos.UpdatedAt = a.pos.UpdatedAt.UTC()
	return nil
}

func (m *MemoryHistory) Transactions(_ context.Context, tenant, accountID string, before int64, limit int) ([]HistoryEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[accountKey(tenant, accountID)]
	if !ok || limit <= 0 {
		return nil, nil
	}
	var out []HistoryEntry
	for _, v := range slices.Sorted(maps.Keys(a.entries)) {
		if before <= 0 || v < before {
			out = append(out, a.entries[v])
		}
	}
	slices.Reverse(out)
	return out[:min(limit, len(out))], nil
}

func clonePosition(p projection.Position) projection.Position {
	if p.Quarantine != nil {
		q := *p.Quarantine
		p.Quarantine = &q
	}
	return p
}

// checkEntries refuses entries that break AppendHistory's contract: a
// bug in the caller, never a reason to write half of them.
func checkEntries(tenant, accountID string, entries []HistoryEntry, pos projection.Position, expected int64) error {
	last := expected
	for _, e := range entries {
		if e.Tenant != tenant || e.AccountID != accountID {
			return fmt.Errorf("history entry of %s#%s appended to %s#%s", e.Tenant, e.AccountID, tenant, accountID)
		}
		if e.Version <= last || e.Version > pos.Version {
			return fmt.Errorf("history entry %d of %s#%s is not between %d and %d in order", e.Version, tenant, accountID, last, pos.Version)
		}
		last = e.Version
	}
	return nil
}
