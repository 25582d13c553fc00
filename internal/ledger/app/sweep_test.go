package app_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// listed is a PendingLister over a fixed list, in its order, counting the
// pages read.
type listed struct {
	stuck []app.Stuck
	pages int
}

func (l *listed) PendingBefore(_ context.Context, _ time.Time, from app.Stuck, limit int) ([]app.Stuck, error) {
	l.pages++
	rest := l.stuck
	if from.TransferID != "" {
		i := slices.IndexFunc(rest, func(s app.Stuck) bool { return s.TransferID == from.TransferID })
		rest = rest[i+1:]
	}
	return rest[:min(len(rest), limit)], nil
}

// Transfers that cannot move, however many, never hide the ones behind
// them: a sweep reads the list to its end, page by page.
func TestSweepReachesTransfersBehindOnesThatCannotMove(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	store := eventstore.New(eventstore.NewMemoryBackend())
	openAccounts(t, store, "t1", map[string]int64{"a": 100, "b": 0})
	tr, _ := app.TransferStream("t1", "tr-ok")
	req, err := app.EncodeTransfer(transfer.Requested{TransferID: "tr-ok", FromAccountID: "a", ToAccountID: "b", Amount: 30, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, eventstore.NewStream(tr), req, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	// Five rows no step can move (ids no stream can have), then the one
	// that can.
	list := &listed{}
	for _, id := range []string{"bad#1", "bad#2", "bad#3", "bad#4", "bad#5", "tr-ok"} {
		list.stuck = append(list.stuck, app.Stuck{Tenant: "t1", TransferID: id})
	}

	rep, err := app.Sweep(ctx, app.NewManager(store, quiet(), 0), list, nil, time.Now(), 2)
	if want := (app.SweepReport{Found: 6, Completed: 1, Errors: 5}); rep != want {
		t.Errorf("report %+v, want %+v", rep, want)
	}
	if err == nil || !strings.Contains(err.Error(), "transfer bad#1 of t1") {
		t.Errorf("error %v, want the first failure's", err)
	}
	if list.pages != 4 {
		t.Errorf("%d pages read, want 4 (three full, one empty)", list.pages)
	}
	cur, err := app.NewTransfers(store).Load(ctx, tr)
	if err != nil || cur.State.Status != transfer.StatusCompleted {
		t.Errorf("tr-ok after the sweep: %+v, %v", cur.State, err)
	}
	if _, err := app.Sweep(ctx, nil, list, nil, time.Now(), 0); err == nil {
		t.Error("a sweep with pages of 0 ran")
	}
}

// stuckList ignores where a page should start: it returns the same page
// every time.
type stuckList struct{ page []app.Stuck }

func (l stuckList) PendingBefore(context.Context, time.Time, app.Stuck, int) ([]app.Stuck, error) {
	return l.page, nil
}

// A lister that does not move on stops the sweep with an error instead of
// looping, and a sweep out of time counts what it did not reach as not
// moved.
func TestSweepStopsWhereItCannotGoOn(t *testing.T) {
	store := eventstore.New(eventstore.NewMemoryBackend())
	m := app.NewManager(store, quiet(), 0)
	page := []app.Stuck{{Tenant: "t1", TransferID: "gone-1"}, {Tenant: "t1", TransferID: "gone-2"}}

	rep, err := app.Sweep(t.Context(), m, stuckList{page}, nil, time.Now(), 2)
	if err == nil || !strings.Contains(err.Error(), "ends where it started") || rep.Found != 4 {
		t.Errorf("a lister that does not move on: %+v, %v", rep, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err = app.Sweep(ctx, m, &listed{stuck: page}, nil, time.Now(), 5)
	if want := (app.SweepReport{Found: 2, Errors: 2}); rep != want || !errors.Is(err, context.Canceled) {
		t.Errorf("out of time: %+v, %v; want %+v and the context's error", rep, err, want)
	}
}

// skippedList is a SkippedLister over a fixed list, or its error.
type skippedList struct {
	streams []eventstore.StreamID
	err     error
}

func (l skippedList) SkippedStreams(context.Context) ([]eventstore.StreamID, error) {
	return l.streams, l.err
}

// requestTransfer appends a transfer's request to its stream, as the
// command does, and returns the stream.
func requestTransfer(t *testing.T, store *eventstore.Store, tenant, id, from, to string, amount int64) eventstore.StreamID {
	t.Helper()
	s, err := app.TransferStream(tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	req, err := app.EncodeTransfer(transfer.Requested{TransferID: id, FromAccountID: from, ToAccountID: to, Amount: amount, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(t.Context(), eventstore.NewStream(s), req, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// A transfer whose request the fan-out skipped has no row in the transfer
// view, so the view's Pending index never lists it and the process
// manager was never woken for it. The sweep finds it among the streams the
// fan-out's letters name, and drives it to its end; the other streams
// they name are not transfers and are passed over, and a transfer both
// named and listed is driven once.
func TestSweepDrivesTransfersTheFanoutSkipped(t *testing.T) {
	store := eventstore.New(eventstore.NewMemoryBackend())
	openAccounts(t, store, "t1", map[string]int64{"a": 100, "b": 0})
	stranded := requestTransfer(t, store, "t1", "tr-stranded", "a", "b", 30)
	tooBig := requestTransfer(t, store, "t1", "tr-big", "a", "b", 500)
	acc, _ := app.AccountStream("t1", "a")
	skipped := skippedList{streams: []eventstore.StreamID{stranded, acc, tooBig, stranded}}
	pending := &listed{stuck: []app.Stuck{{Tenant: "t1", TransferID: "tr-big"}}}

	rep, err := app.Sweep(t.Context(), app.NewManager(store, quiet(), 0), pending, skipped, time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := (app.SweepReport{Found: 1, Skipped: 2, Completed: 1, Failed: 1}); rep != want {
		t.Errorf("report %+v, want %+v", rep, want)
	}
	for s, want := range map[eventstore.StreamID]transfer.Status{stranded: transfer.StatusCompleted, tooBig: transfer.StatusFailed} {
		cur, err := app.NewTransfers(store).Load(t.Context(), s)
		if err != nil || cur.State.Status != want {
			t.Errorf("%s after the sweep: %+v, %v; want %s", s, cur.State, err, want)
		}
	}

	// Letters that cannot be read hide nothing the view lists.
	other := requestTransfer(t, store, "t1", "tr-listed", "a", "b", 10)
	down := errors.New("queue unreachable")
	rep, err = app.Sweep(t.Context(), app.NewManager(store, quiet(), 0), &listed{stuck: []app.Stuck{{Tenant: "t1", TransferID: "tr-listed"}}}, skippedList{err: down}, time.Now(), 10)
	if !errors.Is(err, down) || rep != (app.SweepReport{Found: 1, Completed: 1}) {
		t.Errorf("with the letters unreadable: %+v, %v; want the listed transfer driven and the error", rep, err)
	}
	if cur, _ := app.NewTransfers(store).Load(t.Context(), other); cur.State.Status != transfer.StatusCompleted {
		t.Errorf("tr-listed: %+v", cur.State)
	}
}
