package pipelinetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"annals/internal/eventstore"
	"annals/internal/ledger"
	"annals/internal/ledgerstore"
	"annals/internal/projection"
)

// truth is what the domain makes of one account stream: its events as the
// events table holds them, and the ledger's own fold of each prefix.
type truth struct {
	stream eventstore.StreamID
	events []eventstore.Event
	// states[v] is the fold of versions 1..v (states[0] is no account).
	states []ledger.Account
}

// readTruth reads the whole stream back from the event store and folds it
// with the ledger's Fold, one prefix at a time.
func readTruth(t testing.TB, ctx context.Context, store *eventstore.Store, s eventstore.StreamID) truth {
	t.Helper()
	tr := truth{stream: s, states: []ledger.Account{{}}}
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
	var decoded []ledger.Event
	for i, e := range tr.events {
		if e.Version != int64(i+1) {
			t.Fatalf("%s: version %d read at position %d; the events table must be gapless", s, e.Version, i)
		}
		ev, err := ledgerstore.Decode(e)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		decoded = append(decoded, ev)
		tr.states = append(tr.states, ledger.Fold(decoded))
	}
	return tr
}

func (tr truth) head() int64 { return int64(len(tr.events)) }

// state is the fold at the head.
func (tr truth) state() ledger.Account { return tr.states[len(tr.states)-1] }

// checkRow asserts that row is the domain's fold of the stream at the
// row's own version (at the head, when atHead), with every other field of
// the row following from that version.
func checkRow(t testing.TB, tr truth, row projection.AccountRow, atHead bool) {
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
func checkAccounts(t testing.TB, ctx context.Context, view projection.AccountStore, store *eventstore.Store, streams []eventstore.StreamID) []truth {
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
func checkOwners(t testing.TB, ctx context.Context, view projection.AccountStore, truths []truth, owners map[string][]string) {
	t.Helper()
	want := map[string][]truth{}
	for _, tr := range truths {
		if tr.head() > 0 {
			k := tr.stream.Tenant + "\x00" + tr.state().Owner
			want[k] = append(want[k], tr)
		}
	}
	for tenant, names := range owners {
		for _, owner := range names {
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

func ids(rows []projection.AccountRow) string {
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
