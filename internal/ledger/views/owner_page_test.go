package views_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/views"
)

// pager is what both account stores offer for listing an owner's accounts
// a page at a time.
type pager interface {
	AccountsOfOwnerPage(ctx context.Context, tenant, owner, after string, limit int) ([]views.AccountRow, error)
}

// Paging through an owner's accounts gives each of them once, in account id
// order, on both stores alike; other owners and tenants never show.
func TestAccountsOfOwnerPage(t *testing.T) {
	onBothStores(t, "AccountsTable", ownerPageContract,
		func() pagedStore { return views.NewMemoryAccounts() },
		func(db *dynamodb.Client, table string) pagedStore { return views.NewDynamoAccounts(db, table) })
}

// pagedStore is an account store that pages an owner's accounts.
type pagedStore interface {
	views.AccountStore
	pager
}

func ownerPageContract(t *testing.T, s pagedStore) {
	ctx := t.Context()
	var want []string
	// Ids out of order, with one that sorts between others by bytes.
	for i, id := range []string{"a07", "a01", "a10", "a03", "A99", "a05", "a02"} {
		r := views.AccountRow{Tenant: "t1", AccountID: id, Version: 1,
			State: account.Account{ID: id, Owner: "alice", Currency: "EUR", Status: account.StatusOpen, Balance: int64(i)}}
		if err := s.PutAccount(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	slices.Sort(want)
	for _, r := range []views.AccountRow{
		{Tenant: "t1", AccountID: "a04", State: account.Account{ID: "a04", Owner: "bob", Currency: "EUR", Status: account.StatusOpen}, Version: 1},
		{Tenant: "t2", AccountID: "a06", State: account.Account{ID: "a06", Owner: "alice", Currency: "EUR", Status: account.StatusOpen}, Version: 1},
		{Tenant: "t1", AccountID: "a08", Version: 0, Quarantine: &projection.Quarantine{Reason: "poison", At: 1}},
	} {
		if err := s.PutAccount(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}

	for _, limit := range []int{1, 2, 3, 7, 100} {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(want)+1 {
				t.Fatalf("limit %d: paging does not end: %v", limit, got)
			}
			rows, err := s.AccountsOfOwnerPage(ctx, "t1", "alice", after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(rows))
			}
			for _, r := range rows {
				if r.Tenant != "t1" || r.State.Owner != "alice" {
					t.Fatalf("limit %d: row %+v is not alice's in t1", limit, r)
				}
				got = append(got, r.AccountID)
			}
			if len(rows) < limit {
				break
			}
			after = rows[len(rows)-1].AccountID
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("limit %d: pages gave %v, want %v", limit, got, want)
		}
	}

	// A page starts strictly after its key, which need not be an account.
	rows, err := s.AccountsOfOwnerPage(ctx, "t1", "alice", "a030", 2)
	if err != nil || len(rows) != 2 || rows[0].AccountID != "a05" || rows[1].AccountID != "a07" {
		t.Errorf("after a030: %+v, %v", rows, err)
	}
	if rows, err := s.AccountsOfOwnerPage(ctx, "t1", "alice", "a10", 5); err != nil || len(rows) != 0 {
		t.Errorf("after the last: %+v, %v", rows, err)
	}
	if rows, err := s.AccountsOfOwnerPage(ctx, "t1", "carol", "", 5); err != nil || len(rows) != 0 {
		t.Errorf("carol: %+v, %v", rows, err)
	}
	if rows, err := s.AccountsOfOwnerPage(ctx, "t2", "alice", "", 5); err != nil || len(rows) != 1 || rows[0].AccountID != "a06" {
		t.Errorf("alice in t2: %+v, %v", rows, err)
	}
}
