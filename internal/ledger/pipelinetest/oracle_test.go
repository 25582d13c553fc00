package pipelinetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
)

// truth is what the domain makes of one account stream: its events as the
// events table holds them, and the ledger's own fold of each prefix.
type truth struct {
	stream eventstore.StreamID
	events []eventstore.Event
	// states[v] is the fold of versions 1..v (states[0] is no account).
	states []account.Account
	// moves are the stream's money movements as history entries, oldest
	// first.
	moves []views.HistoryEntry
}

// readTruth reads the whole stream back from the event store and folds it
// with the ledger's Fold, one prefix at a time.
func readTruth(t testing.TB, ctx context.Context, store *eventstore.Store, s eventstore.StreamID) truth {
	t.Helper()
	tr := truth{stream: s, states: []account.Account{{}}}
	for from := int64(1); from != 0; {
		page, err := store.Read(ctx, s, from, 1000)
		if eventstore.IsNotFound(err) {
			break
		}
		if err != nil {
			t.Fatalf("read %s from %d: %v", s, from, err)
		}
		tr.events = append(tr.events, page.Events...)
		from = page.Next
	}
	var decoded []account.Event
	for i, e := range tr.events {
		if e.Version != int64(i+1) {
			t.Fatalf("%s: version %d read at position %d; the events table must be gapless", s, e.Version, i)
		}
		ev, err := app.Decode(e)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		decoded = append(decoded, ev)
		tr.states = append(tr.states, account.Fold(decoded))
		if h, ok := historyEntry(s, e, ev); ok {
			tr.moves = append(tr.moves, h)
		}
	}
	return tr
}

func (tr truth) head() int64 { return int64(len(tr.events)) }

// state is the fold at the head.
func (tr truth) state() account.Account { return tr.states[len(tr.states)-1] }

// checkRow asserts that row is the domain's fold of the stream at the
// row's own version (at the head, when atHead), with every other field of
// the row following from that version.
func checkRow(t testing.TB, tr truth, row views.AccountRow, atHead bool) {
	t.Helper()
	v := row.Version
	if v < 1 || v > tr.head() || (atHead && v != tr.head()) {
		t.Errorf("view of %s at version %d; the stream's head is %d (view %+v)", tr.stream, v, tr.head(), row)
		return
	}
	last := tr.events[v-1]
	if !reflect.DeepEqual(row.State, tr.states[v]) {
		t.Errorf("view of %s at version %d:\n got %+v\nwant %+v (the ledger's fold of versions 1..%d)", tr.stream, v, row.State, tr.states[v], v)
	}
	if row.Tenant != tr.stream.Tenant || row.AccountID != tr.stream.ID {
		t.Errorf("view of %s is keyed %s/%s", tr.stream, row.Tenant, row.AccountID)
	}
	if !row.UpdatedAt.Equal(last.RecordedAt) {
		t.Errorf("view of %s at version %d updated at %v, want that event's recordedAt %v", tr.stream, v, row.UpdatedAt, last.RecordedAt)
	}
	if row.Quarantine != nil {
		t.Errorf("view of %s is quarantined: %+v", tr.stream, *row.Quarantine)
	}
}

// checkAccounts asserts that the view holds every account at its head,
// equal to the fold, and no row for a stream that has no events; it returns
// the truths read.
func checkAccounts(t testing.TB, ctx context.Context, view views.AccountStore, store *eventstore.Store, streams []eventstore.StreamID) []truth {
	t.Helper()
	var out []truth
	for _, s := range streams {
		tr := readTruth(t, ctx, store, s)
		row, found, err := view.Account(ctx, s.Tenant, s.ID)
		if err != nil {
			t.Fatalf("view of %s: %v", s, err)
		}
		switch {
		case tr.head() == 0 && found:
			t.Errorf("view has %s, which has no events: %+v", s, row)
		case tr.head() > 0 && !found:
			t.Errorf("view has no row for %s (head %d)", s, tr.head())
		case found:
			checkRow(t, tr, row, true)
		}
		out = append(out, tr)
	}
	return out
}

// checkOwners asserts that the accounts-by-owner listing of every owner of
// every tenant named in owners is exactly the accounts whose fold names that
// owner, in account id order, each row equal to the fold at the head.
func checkOwners(t testing.TB, ctx context.Context, view views.AccountStore, truths []truth, owners map[string][]string) {
	t.Helper()
	// The view finds accounts by the owner's index value (a blind index
	// for an owner stored sealed): each value the truths hold, and the
	// names given, which find nothing unless stored in the clear.
	want := map[string][]truth{}
	for _, tr := range truths {
		if tr.head() > 0 {
			idx := views.OwnerIndexOf(tr.state())
			k := tr.stream.Tenant + "\x00" + idx
			if len(want[k]) == 0 {
				owners[tr.stream.Tenant] = append(owners[tr.stream.Tenant], idx)
			}
			want[k] = append(want[k], tr)
		}
	}
	for tenant, names := range owners {
		for _, owner := range slices.Compact(slices.Sorted(slices.Values(names))) {
			w := want[tenant+"\x00"+owner]
			slices.SortFunc(w, func(a, b truth) int { return strings.Compare(a.stream.ID, b.stream.ID) })
			rows, err := view.AccountsOfOwner(ctx, tenant, owner)
			if err != nil {
				t.Fatalf("accounts of %s/%s: %v", tenant, owner, err)
			}
			if ids(rows) != idsOf(w) {
				t.Errorf("accounts of %s/%s = %s, want %s", tenant, owner, ids(rows), idsOf(w))
				continue
			}
			for i, row := range rows {
				checkRow(t, w[i], row, true)
			}
		}
	}
}

func ids(rows []views.AccountRow) string {
	var out []string
	for _, r := range rows {
		out = append(out, r.AccountID)
	}
	return fmt.Sprint(out)
}

func idsOf(trs []truth) string {
	var out []string
	for _, tr := range trs {
		out = append(out, tr.stream.ID)
	}
	return fmt.Sprint(out)
}

// historyEntry is the history entry of a money movement, and false for
// any other event.
func historyEntry(s eventstore.StreamID, e eventstore.Event, ev account.Event) (views.HistoryEntry, bool) {
	h := views.HistoryEntry{
		Tenant: s.Tenant, AccountID: s.ID, Version: e.Version, EventID: e.ID,
		OccurredAt: e.OccurredAt, RecordedAt: e.RecordedAt,
	}
	switch m := ev.(type) {
	case account.MoneyDeposited:
		h.Kind, h.Amount, h.BalanceAfter, h.Reference, h.TransferID = views.KindDeposit, m.Amount, m.BalanceAfter, m.Reference, m.TransferID
	case account.MoneyWithdrawn:
		h.Kind, h.Amount, h.BalanceAfter, h.Reference, h.TransferID = views.KindWithdrawal, m.Amount, m.BalanceAfter, m.Reference, m.TransferID
	default:
		return h, false
	}
	return h, true
}

// historyOf is the account's transaction history as the domain recorded
// it in versions 1..v: its MoneyDeposited and MoneyWithdrawn events,
// newest first.
func (tr truth) historyOf(v int64) []views.HistoryEntry {
	var out []views.HistoryEntry
	for _, h := range tr.moves {
		if h.Version <= v {
			out = append(out, h)
		}
	}
	slices.Reverse(out)
	return out
}

// checkHistory asserts that the account's history stands at a version of
// its stream (the head, when atHead) with that event's recordedAt and no
// quarantine, and lists exactly the domain's money movements up to it,
// newest first, read in pages of pageSize.
func checkHistory(t testing.TB, ctx context.Context, store views.HistoryStore, tr truth, atHead bool, pageSize int) {
	t.Helper()
	s := tr.stream
	pos, found, err := store.Position(ctx, s.Tenant, s.ID)
	if err != nil {
		t.Fatalf("history position of %s: %v", s, err)
	}
	var got []views.HistoryEntry
	for before := int64(0); ; {
		page, err := store.Transactions(ctx, s.Tenant, s.ID, before, pageSize)
		if err != nil {
			t.Fatalf("history of %s before %d: %v", s, before, err)
		}
		got = append(got, page...)
		if len(page) < pageSize {
			break
		}
		before = page[len(page)-1].Version
	}
	if !found {
		if atHead && tr.head() > 0 || len(got) > 0 {
			t.Errorf("history of %s has no position (head %d) and %d entries", s, tr.head(), len(got))
		}
		return
	}
	v := pos.Version
	if v < 1 || v > tr.head() || (atHead && v != tr.head()) {
		t.Errorf("history of %s at version %d; the stream's head is %d", s, v, tr.head())
		return
	}
	if !pos.UpdatedAt.Equal(tr.events[v-1].RecordedAt) || pos.Quarantine != nil {
		t.Errorf("history of %s at %d: updated at %v (want %v), quarantine %+v", s, v, pos.UpdatedAt, tr.events[v-1].RecordedAt, pos.Quarantine)
	}
	want := tr.historyOf(v)
	if len(got) != len(want) {
		t.Errorf("history of %s at %d has %d entries, want %d:\n got %s\nwant %s", s, v, len(got), len(want), entries(got), entries(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.OccurredAt.Equal(w.OccurredAt) || !g.RecordedAt.Equal(w.RecordedAt) {
			t.Errorf("history of %s entry %d (version %d): occurred %v recorded %v, want %v and %v", s, i, w.Version, g.OccurredAt, g.RecordedAt, w.OccurredAt, w.RecordedAt)
		}
		g.OccurredAt, g.RecordedAt, w.OccurredAt, w.RecordedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if g != w {
			t.Errorf("history of %s entry %d:\n got %+v\nwant %+v", s, i, g, w)
		}
	}
}

func entries(es []views.HistoryEntry) string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%d:%s:%d", e.Version, e.Kind, e.Amount))
	}
	return fmt.Sprint(out)
}
