package views_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
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

// transferStack is the stack with the transfer view: a live transfers table
// kept by the projector, a fresh one, and the process manager that moves
// the money.
type transferStack struct {
	*stack
	liveTransfers, freshTransfers *views.DynamoTransfers
	manager                       *app.Manager
	fed                           map[string]int64 // per stream, the last version handed to the projector
	transfers                     []*ledgerAccount // the transfer streams
}

func newTransferStack(t *testing.T) *transferStack {
	t.Helper()
	s := newStack(t)
	ts := &transferStack{
		stack:          s,
		liveTransfers:  views.NewDynamoTransfers(s.db, awstest.Table(t, s.db, "TransfersTable")),
		freshTransfers: views.NewDynamoTransfers(s.db, awstest.Table(t, s.db, "TransfersTable")),
		manager:        app.NewManager(s.events, s.log, 0),
		fed:            map[string]int64{},
	}
	s.projector = projection.NewHandler(views.Decode, s.dead, s.log,
		views.NewAccounts(s.liveAccounts, s.events, s.dead, s.log),
		views.NewHistory(s.liveHistory, s.events, s.dead, s.log),
		views.NewTransfers(ts.liveTransfers, s.events, s.dead, s.log))
	return ts
}

// request appends a transfer's request, with a correlation id that the
// transfer's fold keeps.
func (s *transferStack) request(t testing.TB, id, from, to string, amount int64) *ledgerAccount {
	t.Helper()
	st, err := app.TransferStream(tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	tr := &ledgerAccount{stream: st, head: eventstore.NewStream(st)}
	evs, err := app.EncodeTransfer(transfer.Requested{TransferID: id, FromAccountID: from, ToAccountID: to, Amount: amount, Currency: "EUR", Reference: "ref-" + id})
	if err != nil {
		t.Fatal(err)
	}
	s.commitAs(t, tr, eventstore.Metadata{Actor: "alice", CorrelationID: "corr-" + id}, evs...)
	s.fed[st.Key()] = 1
	s.transfers = append(s.transfers, tr)
	return tr
}

// drive runs the process manager on a transfer, then hands the projector
// every commit it made, on the transfer and on both accounts.
func (s *transferStack) drive(t testing.TB, tr *ledgerAccount) {
	t.Helper()
	got, err := s.manager.Drive(t.Context(), tr.stream)
	if err != nil {
		t.Fatalf("drive %s: %v", tr.stream, err)
	}
	for _, id := range []string{got.FromAccountID, got.ToAccountID} {
		for _, a := range s.streams {
			if a.stream.ID == id {
				s.feed(t, a.stream)
			}
		}
	}
	s.feed(t, tr.stream)
}

// feed hands the projector, commit by commit, what it has not been handed
// of a stream.
func (s *transferStack) feed(t testing.TB, st eventstore.StreamID) {
	t.Helper()
	after := s.fed[st.Key()]
	if after == 0 {
		// A stream the test appended to itself was fed as it went.
		for _, a := range s.streams {
			if a.stream == st {
				after = a.head.Version()
			}
		}
	}
	for _, c := range commitsAfter(t, s.events, st, after) {
		s.project(t, c)
		s.fed[st.Key()] = c[len(c)-1].Version
	}
}

// pendingIDs lists the transfers a table's Pending index holds, oldest
// first, as the sweeper reads them.
func pendingIDs(t *testing.T, store *views.DynamoTransfers) []string {
	t.Helper()
	stuck, err := store.PendingBefore(t.Context(), time.Now().Add(time.Hour), app.Stuck{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range stuck {
		ids = append(ids, s.TransferID)
	}
	return ids
}

// A rebuild of the transfer view equals the live view the projector built
// and the transfer's own fold, stream by stream (completed, failed,
// refunded, pending and quarantined transfers), including transfers
// requested and moved between the scan and the catch-up; its Pending index
// lists the same transfers, in the same order, as the live one.
func TestRebuildTransfersEqualsTheLiveViewAndTheFold(t *testing.T) {
	t.Parallel()
	s := newTransferStack(t)
	src, dst, shut := s.open(t, "src"), s.open(t, "dst"), s.open(t, "shut")
	s.deposit(t, src, 10_000)
	s.ledger(t, shut, account.AccountClosed{})

	wantPending := map[string]bool{}
	for i := range 12 {
		id := fmt.Sprintf("tr-%02d", i)
		switch i % 4 {
		case 0: // completed
			s.drive(t, s.request(t, id, src.stream.ID, dst.stream.ID, int64(10+i)))
		case 1: // left pending: the manager never came
			s.request(t, id, src.stream.ID, dst.stream.ID, int64(10+i))
			wantPending[id] = true
		case 2: // failed before the debit
			s.drive(t, s.request(t, id, src.stream.ID, dst.stream.ID, 50_000))
		case 3: // debited, refused by a closed account, refunded
			s.drive(t, s.request(t, id, src.stream.ID, shut.stream.ID, 7))
		}
	}
	// A transfer whose debit does not decode: quarantined at 2.
	poisoned := s.request(t, "tr-poison", src.stream.ID, dst.stream.ID, 5)
	s.commit(t, poisoned, eventstore.NewEvent{Type: transfer.TypeDebited, SchemaVersion: transfer.SchemaVersion + 1, Data: json.RawMessage(`{}`)})
	wantPending["tr-poison"] = true

	target := views.NewTransfers(s.freshTransfers, s.events, s.dead, s.log)
	res := s.rebuildWhileWriting(t, target, app.TransferCategory, func() int { return len(s.transfers) }, func() int {
		// A pending transfer completes, two new ones are requested and
		// one of them completes too.
		s.drive(t, s.transfers[1])
		delete(wantPending, s.transfers[1].stream.ID)
		var added []*ledgerAccount
		for i := range 2 {
			added = append(added, s.request(t, fmt.Sprintf("tr-new-%d", i), src.stream.ID, dst.stream.ID, 3))
		}
		s.drive(t, added[0])
		wantPending[added[1].stream.ID] = true
		return len(added)
	})

	rep, err := views.VerifyTransfers(t.Context(), s.freshTransfers, s.liveTransfers, s.events, res.StreamKeys, 4)
	checkVerified(t, rep, err, len(s.transfers))

	// The test's own oracle, independent of Verify: the fresh row is the
	// live one, and what loading the transfer through its aggregate gives.
	statuses := map[transfer.Status]int{}
	for _, tr := range s.transfers {
		fresh, ok, err := s.freshTransfers.Transfer(t.Context(), tenant, tr.stream.ID)
		live, _, _ := s.liveTransfers.Transfer(t.Context(), tenant, tr.stream.ID)
		if err != nil || !ok {
			t.Fatalf("%s: found %v, %v", tr.stream, ok, err)
		}
		if !reflect.DeepEqual(fresh, live) {
			t.Errorf("%s: fresh %+v, live %+v", tr.stream, fresh, live)
		}
		if tr == poisoned {
			continue
		}
		cur, err := s.manager.Transfers().Load(t.Context(), tr.stream)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.State.Transfer != cur.State || fresh.Version != cur.Head.Version() {
			t.Errorf("%s: fresh %+v at %d, the aggregate loads %+v at %d", tr.stream, fresh.State.Transfer, fresh.Version, cur.State, cur.Head.Version())
		}
		if fresh.State.Transfer.CorrelationID != "corr-"+tr.stream.ID {
			t.Errorf("%s: correlation id %q", tr.stream, fresh.State.Transfer.CorrelationID)
		}
		statuses[fresh.State.Transfer.Status]++
		if fresh.State.Transfer.Refunded {
			statuses["refunded"]++
		}
	}
	if want := map[transfer.Status]int{transfer.StatusCompleted: 5, transfer.StatusPending: 3, transfer.StatusFailed: 6, "refunded": 3}; !reflect.DeepEqual(statuses, want) {
		t.Errorf("statuses %v, want %v: the workload does not cover what it should", statuses, want)
	}
	pos, err := target.Status(t.Context(), poisoned.stream)
	if err != nil || pos.Quarantine == nil || pos.Quarantine.At != 2 || pos.Version != 1 {
		t.Errorf("poisoned transfer in the fresh view: %+v (%v), want quarantined at 2 after 1", pos, err)
	}

	// The sweeper would find the same transfers in either table.
	fresh, live := pendingIDs(t, s.freshTransfers), pendingIDs(t, s.liveTransfers)
	var want []string
	for id := range wantPending {
		want = append(want, id)
	}
	if !slices.Equal(fresh, live) || !reflect.DeepEqual(slices.Sorted(slices.Values(fresh)), slices.Sorted(slices.Values(want))) {
		t.Errorf("pending: fresh %v, live %v, want %v", fresh, live, want)
	}
}
