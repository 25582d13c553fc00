package projection

import (
	"context"
	"log/slog"

	"annals/internal/eventstore"
	"annals/internal/ledger"
	"annals/internal/ledgerstore"
)

// AccountsView is the name of the account view in logs and dead letters.
const AccountsView = "accounts"

// accountTypes are the event types the account view folds; any other type
// on an account stream only advances the position.
var accountTypes = map[string]bool{
	ledger.TypeAccountOpened:    true,
	ledger.TypeMoneyDeposited:   true,
	ledger.TypeMoneyWithdrawn:   true,
	ledger.TypeAccountClosed:    true,
	ledger.TypeTransferOutBegun: true,
	ledger.TypeTransferOutEnded: true,
}

// NewAccounts returns the account view over store: per account stream, the
// ledger's own fold of its events, so that the view always equals what the
// domain would rebuild. Gaps are filled from events; poison goes to dead.
func NewAccounts(store AccountStore, events EventReader, dead *DeadLetters, log *slog.Logger) *Projection[ledger.Account] {
	return newProjection(AccountsView, ledgerstore.AccountCategory, accountModel{store}, events, dead, log)
}

// accountModel folds account streams into AccountRows.
type accountModel struct{ store AccountStore }

func (m accountModel) Load(ctx context.Context, stream eventstore.StreamID) (ledger.Account, Position, error) {
	row, _, err := m.store.Account(ctx, stream.Tenant, stream.ID)
	return row.State, Position{Version: row.Version, UpdatedAt: row.UpdatedAt, Quarantine: row.Quarantine}, err
}

func (accountModel) Fold(s ledger.Account, e eventstore.Event) (ledger.Account, error) {
	if !accountTypes[e.Type] {
		return s, nil
	}
	ev, err := ledgerstore.Decode(e)
	if err != nil {
		return s, err
	}
	return ledger.Evolve(s, ev), nil
}

func (m accountModel) Save(ctx context.Context, stream eventstore.StreamID, s ledger.Account, pos Position, expected int64) error {
	return m.store.PutAccount(ctx, AccountRow{
		Tenant: stream.Tenant, AccountID: stream.ID, State: s,
		Version: pos.Version, UpdatedAt: pos.UpdatedAt, Quarantine: pos.Quarantine,
	}, expected)
}
