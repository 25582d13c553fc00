package archival_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/personal"
	"annals/internal/kit/testclock"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/archival"
)

// world is a ledger in memory whose scans read a few items per page, so
// that runs stop and go on inside the table.
type world struct {
	t       *testing.T
	backend *smallPages
	store   *eventstore.Store
	objects *eventstore.MemoryObjects
	clock   *testclock.Clock
}

type smallPages struct {
	*eventstore.MemoryBackend
	// failBatches fails every batch write from this one on (0: none).
	failBatches atomic.Int64
	batches     atomic.Int64
}

func (s *smallPages) Scan(ctx context.Context, sc eventstore.Scan) (eventstore.ScanPage, error) {
	sc.Limit = 5
	return s.MemoryBackend.Scan(ctx, sc)
}

func (s *smallPages) WriteBatch(ctx context.Context, puts, dels []eventstore.Item) error {
	if n := s.batches.Add(1); s.failBatches.Load() > 0 && n >= s.failBatches.Load() {
		return errors.New("batch refused by the test")
	}
	return s.MemoryBackend.WriteBatch(ctx, puts, dels)
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, backend: &smallPages{MemoryBackend: eventstore.NewMemoryBackend()}, objects: eventstore.NewMemoryObjects("archive"),
		clock: testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour)}
	w.store = eventstore.New(w.backend, eventstore.WithClock(w.clock.Now), eventstore.WithArchive(w.objects))
	return w
}

// account opens an account, deposits and withdraws, and closes it unless
// open.
func (w *world) account(id string, open bool) eventstore.StreamID {
	w.t.Helper()
	c := app.NewCommands(w.store, personal.NewVault(personal.NewMemoryKeys()), 0)
	cmds := []account.Command{account.Open{AccountID: id, Owner: "ann", Currency: "EUR"}, account.Deposit{Amount: 5}, account.Withdraw{Amount: 5}}
	if !open {
		cmds = append(cmds, account.Close{})
	}
	for _, cmd := range cmds {
		if _, err := c.Execute(w.t.Context(), app.AccountCommand{Tenant: "acme", AccountID: id, Command: cmd}); err != nil {
			w.t.Fatalf("%s %T: %v", id, cmd, err)
		}
	}
	s, _ := app.AccountStream("acme", id)
	return s
}

func (w *world) archived(s eventstore.StreamID) bool {
	w.t.Helper()
	_, ok, err := w.store.ArchiveOf(w.t.Context(), s)
	if err != nil {
		w.t.Fatal(err)
	}
	return ok
}

func (w *world) run(c archival.Config) archival.Result {
	w.t.Helper()
	c.Store, c.Objects = w.store, w.objects
	res, err := archival.Run(w.t.Context(), c)
	if err != nil {
		w.t.Fatalf("run: %v", err)
	}
	return res
}

// A run archives the accounts closed before the time and only those, on
// every page of the table, and the next finds nothing to do.
func TestRunArchivesTheAccountsClosedBefore(t *testing.T) {
	w := newWorld(t)
	var old []eventstore.StreamID
	for i := range 6 {
		old = append(old, w.account(fmt.Sprint("old-", i), false))
	}
	open := w.account("open", true)
	cut := w.clock.Now()
	late := w.account("late", false)
	// A transfer's stream is not an account's.
	ts, _ := app.TransferStream("acme", "tr-1")
	if _, err := w.store.Append(t.Context(), eventstore.NewStream(ts), []eventstore.NewEvent{{Type: "TransferRequested", SchemaVersion: 1, Data: []byte(`{}`)}}, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}

	var told []string
	res := w.run(archival.Config{ClosedBefore: cut, Archived: func(a eventstore.Archived) { told = append(told, a.Stream.ID) }})
	if res.Archived != 6 || res.Candidates != 6 || res.Events != 24 || res.Stopped != "" || res.Next != nil || len(res.Failed) != 0 || res.Scanned == 0 {
		t.Fatalf("run = %+v; want the 6 old accounts archived (24 events) to the end of the table", res)
	}
	for _, s := range old {
		if !w.archived(s) {
			t.Errorf("%s not archived", s)
		}
	}
	for _, s := range []eventstore.StreamID{open, late} {
		if w.archived(s) {
			t.Errorf("%s archived", s)
		}
	}
	if slices.Sort(told); len(told) != 6 || told[0] != "old-0" {
		t.Errorf("told of %v", told)
	}
	if again := w.run(archival.Config{ClosedBefore: cut}); again.Archived != 0 || again.Candidates != 0 || again.Finished != 0 {
		t.Errorf("a second run = %+v; want nothing to do", again)
	}
}

// A run bounded by a count or a time stops with where to go on, and the
// runs that go on from there archive the rest, none twice.
func TestRunsGoOnWhereTheLastStopped(t *testing.T) {
	w := newWorld(t)
	for i := range 7 {
		w.account(fmt.Sprint("old-", i), false)
	}
	cut := w.clock.Now()
	total := 0
	var from *eventstore.ScanCursor
	for runs := 1; ; runs++ {
		res := w.run(archival.Config{ClosedBefore: cut, Max: 2, From: from})
		total += res.Archived
		if res.Archived > 2 {
			t.Fatalf("run %d archived %d, over its bound of 2", runs, res.Archived)
		}
		if res.Stopped == "" {
			break
		}
		if res.Stopped != "max" || runs > 10 {
			t.Fatalf("run %d = %+v", runs, res)
		}
		from = res.Next
	}
	if total != 7 {
		t.Errorf("the runs archived %d accounts, want 7", total)
	}

	// Past its time, a run stops before its first account, and says where
	// to start again: the beginning of the table.
	w2 := newWorld(t)
	s := w2.account("old", false)
	res := w2.run(archival.Config{ClosedBefore: w2.clock.Now(), Until: time.Unix(0, 0)})
	if res.Stopped != "time" || res.Next != nil || res.Archived != 0 || w2.archived(s) {
		t.Fatalf("a run past its time = %+v", res)
	}
}

// An account that fails is listed and passed; the next run archives it,
// and finishes an archival a run left half done.
func TestFailuresAreTriedAgain(t *testing.T) {
	w := newWorld(t)
	a, b := w.account("a", false), w.account("b", false)
	cut := w.clock.Now()
	// Every batch fails: each archival stops after its marker.
	w.backend.failBatches.Store(1)
	res := w.run(archival.Config{ClosedBefore: cut})
	if len(res.Failed) != 2 || res.Archived != 0 || res.Err() == nil {
		t.Fatalf("run with failing batches = %+v", res)
	}
	for _, s := range []eventstore.StreamID{a, b} {
		if !w.archived(s) {
			t.Fatalf("%s has no marker after its archival stopped", s)
		}
	}
	w.backend.failBatches.Store(0)
	// Half done a moment ago (by the store's clock): perhaps under way
	// elsewhere, or a restore; left alone.
	marker, _, _ := w.store.ArchiveOf(t.Context(), a)
	res = w.run(archival.Config{ClosedBefore: cut, Now: func() time.Time { return marker.At.Add(time.Minute) }})
	if res.Finished != 0 || len(res.Failed) != 0 {
		t.Fatalf("a run a minute after the archivals began = %+v; want them left alone", res)
	}
	res = w.run(archival.Config{ClosedBefore: cut})
	if res.Finished != 2 || len(res.Failed) != 0 || res.Err() != nil {
		t.Fatalf("the next run = %+v; want both archivals finished", res)
	}
	for _, s := range []eventstore.StreamID{a, b} {
		if p, err := w.store.Read(t.Context(), s, 1, 10); err != nil || len(p.Events) != 4 {
			t.Errorf("%s reads %d events, %v", s, len(p.Events), err)
		}
	}
	if res := w.run(archival.Config{ClosedBefore: cut}); res.Finished != 0 || res.Archived != 0 {
		t.Errorf("a third run = %+v; want nothing left", res)
	}
}
