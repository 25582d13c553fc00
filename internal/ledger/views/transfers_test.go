package views_test

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// transferWorld is a transfer driven by the real process manager, whose
// commits the test feeds to the transfer view by hand.
type transferWorld struct {
	events  *eventstore.Store
	manager *app.Manager
	tenant  string
}

func newTransferWorld(t *testing.T, tenant string) *transferWorld {
	w := &transferWorld{events: newEvents(), tenant: tenant}
	w.manager = app.NewManager(w.events, slog.New(slog.DiscardHandler), 0)
	accounts := app.NewAccounts(w.events)
	for id, balance := range map[string]int64{"a": 1000, "b": 0} {
		s, _ := app.AccountStream(tenant, id)
		evs := []account.Event{account.AccountOpened{AccountID: id, Owner: "o", Currency: "EUR"}}
		if balance > 0 {
			evs = append(evs, account.MoneyDeposited{Amount: balance, BalanceAfter: balance})
		}
		enc, _ := app.Encode(evs)
		if _, _, err := accounts.Append(t.Context(), eventstore.Current[account.Account]{Head: eventstore.NewStream(s)}, enc, eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *transferWorld) request(t *testing.T, id string, amount int64) eventstore.StreamID {
	t.Helper()
	s, _ := app.TransferStream(w.tenant, id)
	evs, _ := app.EncodeTransfer(transfer.Requested{TransferID: id, FromAccountID: "a", ToAccountID: "b", Amount: amount, Currency: "EUR"})
	if _, err := w.events.Append(t.Context(), eventstore.NewStream(s), evs, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkTransferView runs the transfer view's rules against one store: the
// row equals the transfer's own fold whatever the delivery order, and the
// Pending index lists exactly the transfers still pending, oldest first.
func checkTransferView(t *testing.T, store views.TransferStore, tenant string) {
	ctx := t.Context()
	w := newTransferWorld(t, tenant)
	view := views.NewTransfers(store, w.events, projection.NewDeadLetters(&projection.LetterBox{}), slog.New(slog.DiscardHandler))

	done, stuck, poor := w.request(t, "t-done", 300), w.request(t, "t-stuck", 50), w.request(t, "t-poor", 5000)
	for _, s := range []eventstore.StreamID{done, poor} {
		if _, err := w.manager.Drive(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []eventstore.StreamID{done, stuck, poor} {
		commits := commitsAfter(t, w.events, s, 0)
		// Last commit first (a gap, filled from the events table), then
		// everything again (duplicates).
		slices.Reverse(commits)
		for _, c := range append(commits, commits...) {
			if err := view.Apply(ctx, c); err != nil {
				t.Fatalf("apply %s: %v", s, err)
			}
		}
		cur, err := w.manager.Transfers().Load(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		row, found, err := store.Transfer(ctx, tenant, s.ID)
		if err != nil || !found {
			t.Fatalf("transfer %s: found %v, %v", s.ID, found, err)
		}
		first := commits[len(commits)-1][0]
		if row.State.Transfer != cur.State || row.Version != cur.Head.Version() || !row.UpdatedAt.Equal(cur.Head.RecordedAt()) || !row.State.RequestedAt.Equal(first.RecordedAt) {
			t.Errorf("row %+v, want %+v at %d (%s), requested %s", row, cur.State, cur.Head.Version(), cur.Head.RecordedAt(), first.RecordedAt)
		}
	}
	if row, _, _ := store.Transfer(ctx, tenant, "t-done"); row.State.Transfer.Status != transfer.StatusCompleted {
		t.Errorf("t-done is %q", row.State.Transfer.Status)
	}
	if row, _, _ := store.Transfer(ctx, tenant, "t-poor"); row.State.Transfer.Reason != transfer.ReasonInsufficientFunds {
		t.Errorf("t-poor failed for %q", row.State.Transfer.Reason)
	}

	pending := func(before time.Time) []string {
		t.Helper()
		got, err := store.PendingBefore(ctx, before, app.Stuck{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range got {
			if s.Tenant == tenant {
				ids = append(ids, s.TransferID)
			}
		}
		return ids
	}
	row, _, _ := store.Transfer(ctx, tenant, "t-stuck")
	if got := pending(time.Now().Add(time.Hour)); !slices.Equal(got, []string{"t-stuck"}) {
		t.Errorf("pending %v, want only t-stuck", got)
	}
	if got := pending(row.State.RequestedAt); len(got) != 0 {
		t.Errorf("pending before its request time: %v", got)
	}
	// The sweeper drives it through the same steps, and once the view
	// has seen that, it is no longer pending.
	rep, err := app.Sweep(ctx, w.manager, store, nil, time.Now().Add(time.Hour), 100)
	if err != nil || rep.Completed < 1 {
		t.Fatalf("sweep: %+v, %v", rep, err)
	}
	for _, c := range commitsAfter(t, w.events, stuck, 0) {
		if err := view.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if got := pending(time.Now().Add(time.Hour)); len(got) != 0 {
		t.Errorf("pending after the sweep: %v", got)
	}
}

// checkPendingPages is the contract of the Pending index's pages: oldest
// first, only pending transfers requested before the cut-off, each page
// starting after the last of the one before, every transfer exactly once.
func checkPendingPages(t *testing.T, store views.TransferStore) {
	t.Helper()
	ctx := t.Context()
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	put := func(tenant, id string, status transfer.Status, at time.Time) {
		t.Helper()
		row := views.TransferRow{Tenant: tenant, TransferID: id, Version: 1, UpdatedAt: at,
			State: views.TransferState{RequestedAt: at, Transfer: transfer.Transfer{
				FromAccountID: "a", ToAccountID: "b", Amount: 1, Currency: "EUR", Status: status}}}
		if err := store.PutTransfer(ctx, row, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Requested in an order that is neither the ids' nor the tenants', the
	// third and fourth at the same time, across a page boundary.
	at := map[string]time.Time{}
	for i, id := range []string{"p-e", "p-a", "p-g", "p-c", "p-b", "p-f", "p-d"} {
		tenant := []string{"pages-x", "pages-y"}[i%2]
		when := base.Add(time.Duration(i)*time.Millisecond + time.Duration(i))
		if i == 3 {
			when = at["pages-x/p-g"]
		}
		put(tenant, id, transfer.StatusPending, when)
		at[tenant+"/"+id] = when
	}
	put("pages-x", "done", transfer.StatusCompleted, base.Add(-time.Second))
	put("pages-y", "failed", transfer.StatusFailed, base.Add(-time.Second))
	put("pages-x", "late", transfer.StatusPending, base.Add(time.Hour))
	cutoff := base.Add(time.Minute)

	var got []string
	var from app.Stuck
	for pages := 0; ; pages++ {
		if pages > len(at) {
			t.Fatalf("no end after %d pages: %v", pages, got)
		}
		page, err := store.PendingBefore(ctx, cutoff, from, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d, want at most 3", len(page))
		}
		for _, s := range page {
			if strings.HasPrefix(s.Tenant, "pages-") {
				got = append(got, s.Tenant+"/"+s.TransferID)
			}
		}
		if len(page) < 3 {
			break
		}
		from = page[len(page)-1]
	}
	// Every pending one before the cut-off once, oldest first (equal
	// times in either order).
	seen := map[string]bool{}
	for i, k := range got {
		if _, ok := at[k]; !ok || seen[k] {
			t.Errorf("listed %s: not pending before the cut-off, or twice (%v)", k, got)
		}
		seen[k] = true
		if i > 0 && at[k].Before(at[got[i-1]]) {
			t.Errorf("%s listed after the younger %s", k, got[i-1])
		}
	}
	if len(seen) != len(at) {
		t.Errorf("pages listed %v, want all of %v", got, slices.Sorted(maps.Keys(at)))
	}
}

func TestTransferViewInMemory(t *testing.T) {
	checkTransferView(t, views.NewMemoryTransfers(), "t1")
	checkPendingPages(t, views.NewMemoryTransfers())
}

func TestTransferViewOnDynamoDB(t *testing.T) {
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "TransfersTable")
	store := views.NewDynamoTransfers(db, table)
	checkTransferView(t, store, "t1")
	checkPendingPages(t, store)

	// A stale writer loses.
	row, _, err := store.Transfer(context.Background(), "t1", "t-done")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutTransfer(context.Background(), row, row.Version-1); err == nil {
		t.Error("a put at a stale position succeeded")
	}
}
