package views_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// onBothStores runs a store's contract on the in-memory store and on the
// DynamoDB one, in a table of its own made from the template's logicalID:
// the in-memory store must behave exactly like the DynamoDB one.
func onBothStores[S any](t *testing.T, logicalID string, contract func(*testing.T, S), memory func() S, dynamo func(db *dynamodb.Client, table string) S) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		contract(t, memory())
	})
	t.Run("dynamodb", func(t *testing.T) {
		t.Parallel()
		db := awstest.DynamoDB(t)
		contract(t, dynamo(db, awstest.Table(t, db, logicalID)))
	})
}

func TestAccountStoreContract(t *testing.T) {
	onBothStores(t, "AccountsTable", accountStoreContract,
		func() views.AccountStore { return views.NewMemoryAccounts() },
		func(db *dynamodb.Client, table string) views.AccountStore { return views.NewDynamoAccounts(db, table) })
}

func accountStoreContract(t *testing.T, s views.AccountStore) {
	ctx := t.Context()
	if _, found, err := s.Account(ctx, "t1", "missing"); err != nil || found {
		t.Fatalf("missing account: found %v, %v", found, err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	row := views.AccountRow{
		Tenant: "t1", AccountID: "a1",
		State: account.Account{ID: "a1", Owner: "alice", Currency: "EUR", OverdraftLimit: 50, Balance: -20, Status: account.StatusOpen,
			TransfersInFlight: map[string]int64{"tr1": 5, "tr2": 7}},
		Version: 3, UpdatedAt: at,
	}
	if err := s.PutAccount(ctx, row, 0); err != nil {
		t.Fatalf("first put: %v", err)
	}
	got, found, err := s.Account(ctx, "t1", "a1")
	if err != nil || !found {
		t.Fatalf("get: %v, %v", found, err)
	}
	want := row
	want.UpdatedAt = at.UTC()
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("round trip\n got %+v\nwant %+v", got, want)
	}

	// The position guards every write.
	next := row
	next.Version, next.State.Balance = 4, 0
	for _, stale := range []int64{0, 2, 4} {
		if err := s.PutAccount(ctx, next, stale); !errors.Is(err, projection.ErrStale) {
			t.Errorf("put expecting %d while at 3: %v, want ErrStale", stale, err)
		}
	}
	if err := s.PutAccount(ctx, next, 3); err != nil {
		t.Fatalf("put at the position: %v", err)
	}

	// A quarantined row, before any state: no owner, so not in the index.
	q := views.AccountRow{Tenant: "t1", AccountID: "a0", Version: 0,
		Quarantine: &projection.Quarantine{Reason: "envelope does not decode", At: 1}}
	if err := s.PutAccount(ctx, q, 0); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Account(ctx, "t1", "a0"); err != nil || got.Quarantine == nil || *got.Quarantine != *q.Quarantine {
		t.Errorf("quarantined row = %+v (%v), want %+v", got, err, q)
	} else if got.Quarantine, q.Quarantine = nil, nil; fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", q) {
		t.Errorf("quarantined row = %+v, want %+v", got, q)
	}

	// By owner: the tenant's accounts of that owner, in account id order.
	for _, r := range []views.AccountRow{
		{Tenant: "t1", AccountID: "a3", State: account.Account{ID: "a3", Owner: "alice", Currency: "USD", Status: account.StatusClosed}, Version: 2},
		{Tenant: "t1", AccountID: "a2", State: account.Account{ID: "a2", Owner: "alice", Currency: "EUR", Status: account.StatusOpen}, Version: 1},
		{Tenant: "t1", AccountID: "b1", State: account.Account{ID: "b1", Owner: "bob", Currency: "EUR", Status: account.StatusOpen}, Version: 1},
		{Tenant: "t2", AccountID: "a9", State: account.Account{ID: "a9", Owner: "alice", Currency: "EUR", Status: account.StatusOpen}, Version: 1},
	} {
		if err := s.PutAccount(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	owned, err := s.AccountsOfOwner(ctx, "t1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range owned {
		ids = append(ids, r.AccountID)
	}
	if fmt.Sprint(ids) != "[a1 a2 a3]" {
		t.Errorf("accounts of alice in t1 = %v, want [a1 a2 a3]", ids)
	}
	if len(owned) == 3 && (owned[0].Version != 4 || owned[2].State.Status != account.StatusClosed || owned[2].State.Currency != "USD") {
		t.Errorf("rows by owner %+v", owned)
	}
	if none, err := s.AccountsOfOwner(ctx, "t1", "carol"); err != nil || len(none) != 0 {
		t.Errorf("accounts of carol = %v, %v", none, err)
	}
}
