package views

import (
	"context"
	"time"

	"annals/internal/kit/projection"

	"annals/internal/ledger/account"
)

// AccountRow is one account of the account view: the state the ledger's own
// fold gives, the stream position it reflects, and the quarantine, if any.
type AccountRow struct {
	Tenant    string
	AccountID string // the account stream's id
	// State is the ledger's fold of the stream's events up to Version; its
	// ID is AccountOpened's account id.
	State account.Account
	// Version is the last applied stream version: the view's position.
	Version int64
	// UpdatedAt is the last applied event's recordedAt, never a wall clock.
	UpdatedAt time.Time
	// Quarantine is set when the stream stopped at a poison event.
	Quarantine *projection.Quarantine
}

// AccountStore is where the account view lives. The DynamoDB table is the
// real one; the in-memory one serves fast tests, and one contract suite
// runs against both.
type AccountStore interface {
	// Account returns the row (consistent read), or found false.
	Account(ctx context.Context, tenant, accountID string) (row AccountRow, found bool, err error)
	// PutAccount writes the whole row if it does not exist yet or its
	// position is still expected, else fails with ErrStale.
	PutAccount(ctx context.Context, row AccountRow, expected int64) error
	// AccountsOfOwner returns the owner's accounts in account id order.
	AccountsOfOwner(ctx context.Context, tenant, owner string) ([]AccountRow, error)
}
