package views

import (
	"context"
	"log/slog"

	"annals/internal/kit/projection"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// AccountsView is the name of the account view in logs and dead letters.
const AccountsView = "accounts"

// accountTypes are the event types the account view folds; any other type
// on an account stream only advances the position.
var accountTypes = map[string]bool{
	account.TypeAccountOpened:    true,
	account.TypeMoneyDeposited:   true,
	account.TypeMoneyWithdrawn:   true,
	account.TypeAccountClosed:    true,
	account.TypeTransferOutBegun: true,
	account.TypeTransferOutEnded: true,
}

// NewAccounts returns the account view over store: per account stream, the
// ledger's own fold of its events, so that the view always equals what the
// domain would rebuild. Gaps are filled from events; poison goes to dead.
func NewAccounts(store AccountStore, events projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) *projection.Projection[account.Account] {
	return projection.New(AccountsView, app.AccountCategory, accountModel{store}, events, dead, log)
}

// accountModel folds account streams into AccountRows.
type accountModel struct{ store AccountStore }

func (m accountModel) Load(ctx context.Context, stream eventstore.StreamID) (account.Account, projection.Position, error) {
	row, _, err := m.store.Account(ctx, stream.Tenant, stream.ID)
	return row.State, projection.Position{Version: row.Version, UpdatedAt: row.UpdatedAt, Quarantine: row.Quarantine}, err
}

func (accountModel) Fold(s account.Account, e projection.Event) (account.Account, error) {
	if !accountTypes[e.Type] {
		return s, nil
	}
	ev, err := projection.Decoded(e, app.Decode)
	if err != nil {
		return s, err
	}
	return account.Evolve(s, ev), nil
}

func (m accountModel) Save(ctx context.Context, stream eventstore.StreamID, s account.Account, pos projection.Position, expected int64) error {
	return m.store.PutAccount(ctx, AccountRow{
		Tenant: stream.Tenant, AccountID: stream.ID, State: s,
		Version: pos.Version, UpdatedAt: pos.UpdatedAt, Quarantine: pos.Quarantine,
	}, expected)
}

// Kept is the row as saved: an account's state is all of it.
func (accountModel) Kept(s account.Account, _ projection.Position) account.Account { return s }
