package pipelinetest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
)

// long tells whether the long randomized runs were asked for
// (make test LONG=1).
func long() bool { return os.Getenv("LONG") != "" }

// seeds is how many seeds a property runs: short by default, more with LONG.
func seeds(short, long_ int) uint64 {
	if long() {
		return uint64(long_)
	}
	return uint64(short)
}

// reportSeed tells, when the test fails, how to run its seed alone.
func reportSeed(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("rerun this seed alone: go test -race -count=1 -run '^%s$' ./internal/pipelinetest/", t.Name())
		}
	})
}

// TestViewsEqualTheFold writes random commands on many accounts of two
// tenants through the ledger's Decide and the event store (in memory),
// delivers every commit's public envelope to the projector with
// duplicates, reordering within and across batches, and records lost on
// the way, and asserts that the views equal the domain's own fold of each
// stream: after every batch, each account is the fold of a prefix of its
// stream and its transaction history the money movements of that prefix;
// at the end, of the whole stream, and the owner listings hold exactly the
// accounts their folds name.
func TestViewsEqualTheFold(t *testing.T) {
	t.Parallel()
	var total delivery
	t.Run("seeds", func(t *testing.T) {
		for seed := range seeds(200, 5000) {
			t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
				t.Parallel()
				d := runProperty(t, seed)
				total.add(d)
			})
		}
	})
	// Every kind of mishap happened, so the property was tested against
	// each of them.
	if !t.Failed() && (total.duplicated == 0 || total.redelivered == 0 || total.lost == 0 || total.swapped == 0) {
		t.Errorf("the schedules never did something: %s", total)
	}
	t.Logf("all seeds: %s", total)
}

// runProperty runs one seed and returns what its delivery did.
func runProperty(t *testing.T, seed uint64) delivery {
	reportSeed(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))

	// A clock that mostly moves forward by up to a few seconds and
	// sometimes steps back (the store must keep recordedAt monotonic per
	// stream anyway); ids that repeat across seeds but never within one.
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		if rng.IntN(10) == 0 {
			now = now.Add(-time.Duration(rng.IntN(5000)) * time.Millisecond)
		} else {
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		}
		return now
	}
	n := 0
	newID := func() string { n++; return fmt.Sprintf("id-%d-%06d", seed, n) }
	store := eventstore.New(eventstore.NewMemoryBackend(), eventstore.WithClock(clock), eventstore.WithIDs(newID),
		eventstore.WithSnapshotEvery(int64(2+rng.IntN(10))), eventstore.WithLogger(slog.New(slog.DiscardHandler)))
	agg := app.NewAccounts(store)

	tenants := []string{"t1", "t2"}
	owners := map[string][]string{}
	for _, tn := range tenants {
		owners[tn] = []string{"ann", "bob", "cho", "nobody"} // nobody never gets an account
	}
	type holder struct {
		cur   eventstore.Current[account.Account]
		owner string
	}
	accounts := make([]*holder, 3+rng.IntN(18))
	var streams []eventstore.StreamID
	for i := range accounts {
		tn := tenants[rng.IntN(len(tenants))]
		s, err := app.AccountStream(tn, fmt.Sprintf("acc-%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		accounts[i] = &holder{cur: eventstore.Current[account.Account]{Head: eventstore.NewStream(s)}, owner: owners[tn][rng.IntN(3)]}
		streams = append(streams, s)
	}

	// The commands: each commit holds what one to three commands decided
	// on the account in a row, refused commands adding nothing.
	var commits []published
	commands := 20 + rng.IntN(200)
	for c := range commands {
		a := accounts[rng.IntN(len(accounts))]
		s := a.cur.State
		var news []account.Event
		for range 1 + rng.IntN(3)*rng.IntN(2) {
			evs, err := account.Decide(s, nextCommand(rng, s, a.cur.Head.Stream().ID, a.owner))
			if err != nil {
				continue
			}
			for _, e := range evs {
				s = account.Evolve(s, e)
			}
			news = append(news, evs...)
		}
		if len(news) == 0 {
			continue
		}
		enc, err := app.Encode(news)
		if err != nil {
			t.Fatal(err)
		}
		if rng.IntN(3) == 0 { // the fact happened before it was recorded
			for i := range enc {
				enc[i].OccurredAt = now.Add(-time.Duration(1+rng.IntN(3600)) * time.Second)
			}
		}
		meta := eventstore.Metadata{CommandID: fmt.Sprint("cmd-", c), CorrelationID: fmt.Sprint("corr-", c), Actor: a.owner}
		next, written, err := agg.Append(ctx, a.cur, enc, meta, nil)
		if err != nil {
			t.Fatalf("command %d on %s: %v", c, a.cur.Head.Stream(), err)
		}
		a.cur = next
		data, err := envelope.Encode(written)
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, published{
			key: written[0].Stream.Key(), data: data, stream: written[0].Stream,
			from: written[0].Version, to: written[len(written)-1].Version,
		})
	}

	// The projector, its views reading gaps back from the event store.
	dead := &projection.LetterBox{}
	log := slog.New(slog.DiscardHandler)
	dl := projection.NewDeadLetters(dead)
	view := views.NewMemoryAccounts()
	history := views.NewMemoryHistory()
	// Two instances of the projector, as Lambda runs a new one when the
	// last is busy or gone: each believes the rows it wrote, which the
	// other moves on under it.
	instance := func() *projection.Handler {
		return projection.NewHandler(views.Decode, dl, log, views.NewAccounts(view, store, dl, log), views.NewHistory(history, store, dl, log))
	}
	projectors := []*projection.Handler{instance(), instance()}
	pageSize := 1 + rng.IntN(10)

	batches, d := schedule(rng, commits)
	truths := map[string]truth{}
	for _, s := range streams {
		truths[s.Key()] = readTruth(t, ctx, store, s)
	}
	for i, b := range batches {
		h := projectors[0]
		if rng.IntN(4) == 0 {
			h = projectors[1]
		}
		resp, err := h.Handle(ctx, events.KinesisEvent{Records: b})
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if len(resp.BatchItemFailures) > 0 {
			t.Fatalf("batch %d: the projector reported %v; nothing in memory can fail", i, resp.BatchItemFailures)
		}
		// Whatever has arrived so far, each stream of the batch is the
		// fold of a prefix in the account view, and its money movements
		// in the history.
		touched := map[string]bool{}
		for _, r := range b {
			touched[r.Kinesis.PartitionKey] = true
		}
		for _, s := range streams {
			if !touched[s.Key()] {
				continue
			}
			row, found, err := view.Account(ctx, s.Tenant, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if found {
				checkRow(t, truths[s.Key()], row, false)
			}
			checkHistory(t, ctx, history, truths[s.Key()], false, pageSize)
		}
		if t.Failed() {
			t.Fatalf("after batch %d of %d (%s)", i, len(batches), d)
		}
	}

	all := checkAccounts(t, ctx, view, store, streams)
	checkOwners(t, ctx, view, all, owners)
	for _, tr := range all {
		checkHistory(t, ctx, history, tr, true, pageSize)
	}
	if l := dead.Letters(); len(l) > 0 {
		t.Errorf("dead letters %v; no event of this run is poison", l)
	}
	if t.Failed() {
		t.Logf("delivery: %s", d)
	}
	return d
}

func (d *delivery) add(o delivery) {
	totalMu.Lock()
	defer totalMu.Unlock()
	d.duplicated += o.duplicated
	d.redelivered += o.redelivered
	d.lost += o.lost
	d.swapped += o.swapped
	d.shards += o.shards
	d.batches += o.batches
	d.records += o.records
}
