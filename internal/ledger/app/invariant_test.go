package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/processapi"
	"annals/internal/ledger/transfer"
	"annals/internal/localaws/awstest"
)

func long() bool { return os.Getenv("LONG") != "" }

// errKilled stands for the process manager dying right after a commit
// landed: the step is recorded, the next one not run, and the record that
// woke it is delivered again.
var errKilled = errors.New("process manager killed after a commit (injected)")

// faults wraps a backend: it publishes every commit written, as the
// fan-out would (a record per commit, partition key = stream key), and
// injects failures into the process manager's multi-stream commits: before
// the write, after it with the answer lost (the store resends), and after
// it with the process killed.
type faults struct {
	eventstore.Backend
	publish func(streamKey string)

	mu                              sync.Mutex
	rng                             *rand.Rand
	failBefore, lostReply, killedAt float64
	injected                        map[string]int
}

func (f *faults) roll(p float64, what string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rng.Float64() >= p {
		return false
	}
	f.injected[what]++
	return true
}

func (f *faults) Write(ctx context.Context, writes []eventstore.Write, token string) error {
	step := len(writes) > 1 && ctx.Value(managerKey{}) != nil
	if step && f.roll(f.failBefore, "before") {
		return errors.New("connection reset (injected)")
	}
	if err := f.Backend.Write(ctx, writes, token); err != nil {
		return err
	}
	for _, w := range writes {
		if evs, err := eventstore.DecodeCommit(w.Item); err == nil {
			f.publish(evs[0].Stream.Key())
		}
	}
	if step && f.roll(f.lostReply, "lost reply") {
		return fmt.Errorf("%w: reply lost (injected)", eventstore.ErrUnknownOutcome)
	}
	if step && f.roll(f.killedAt, "killed") {
		return errKilled
	}
	return nil
}

// managerKey marks the process manager's context, so that only its
// commits see faults (the test's own setup and requests do not).
type managerKey struct{}

// shard is the Kinesis stream as the process manager sees it: records
// come in any order, some twice, failed ones again (or, after the retries
// run out, never: the sweeper's business).
type shard struct {
	mu       sync.Mutex
	cond     *sync.Cond
	records  []string
	inFlight int
	closed   bool
}

func newShard() *shard {
	s := &shard{}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *shard) put(keys ...string) {
	s.mu.Lock()
	s.records = append(s.records, keys...)
	s.mu.Unlock()
	s.cond.Broadcast()
}

// take returns up to n records picked at random, or nil once the shard is
// closed and drained.
func (s *shard) take(rng *rand.Rand, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.records) == 0 {
		if s.closed && s.inFlight == 0 {
			return nil
		}
		s.cond.Wait()
	}
	var out []string
	for len(out) < n && len(s.records) > 0 {
		i := rng.IntN(len(s.records))
		out = append(out, s.records[i])
		s.records[i] = s.records[len(s.records)-1]
		s.records = s.records[:len(s.records)-1]
	}
	s.inFlight++
	return out
}

func (s *shard) done() {
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	s.cond.Broadcast()
}

// close says no more records will be put: the workers stop once the shard
// is empty and nothing is in flight.
func (s *shard) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

type world struct {
	t         testing.TB
	tenant    string
	store     *eventstore.Store
	accounts  *app.Accounts
	transfers *app.Transfers
	handler   *processapi.Handler
	manager   *app.Manager
	faults    *faults
	shard     *shard
	opened    []string
	total     int64
	mu        sync.Mutex
	requested []string
}

func newWorld(t testing.TB, backend eventstore.Backend, seed uint64, tenant string) *world {
	w := &world{t: t, tenant: tenant, shard: newShard()}
	w.faults = &faults{
		Backend: backend, rng: rand.New(rand.NewPCG(seed, 1)), injected: map[string]int{},
		failBefore: 0.05, lostReply: 0.05, killedAt: 0.15,
		publish: func(key string) { w.shard.put(key) },
	}
	w.store = eventstore.New(w.faults, eventstore.WithSnapshotEvery(8), eventstore.WithLogger(quiet()))
	w.accounts = app.NewAccounts(w.store)
	w.transfers = app.NewTransfers(w.store)
	w.manager = app.NewManager(w.store, quiet(), 0)
	w.handler = processapi.NewHandler(w.manager, quiet())
	return w
}

func (w *world) accountStream(id string) eventstore.StreamID {
	s, err := app.AccountStream(w.tenant, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// command decides and appends on an account, deciding again after a lost
// race, as the command function does.
func (w *world) command(ctx context.Context, id string, c account.Command) error {
	stream := w.accountStream(id)
	for {
		cur := eventstore.Current[account.Account]{Head: eventstore.NewStream(stream)}
		if _, open := c.(account.Open); !open {
			var err error
			if cur, err = w.accounts.Load(ctx, stream); err != nil {
				return err
			}
		}
		evs, err := account.Decide(cur.State, c)
		if err != nil || len(evs) == 0 {
			return err
		}
		enc, err := app.Encode(evs)
		if err != nil {
			return err
		}
		_, _, err = w.accounts.Append(ctx, cur, enc, eventstore.Metadata{CommandID: "test"}, nil)
		if !errors.Is(err, eventstore.ErrConflict) {
			return err
		}
	}
}

func (w *world) open(ctx context.Context, id string, balance, overdraft int64) {
	w.t.Helper()
	if err := w.command(ctx, id, account.Open{AccountID: id, Owner: "o", Currency: "EUR", OverdraftLimit: overdraft}); err != nil {
		w.t.Fatal(err)
	}
	for left := balance; left > 0; left -= account.MaxAmount {
		if err := w.command(ctx, id, account.Deposit{Amount: min(left, account.MaxAmount)}); err != nil {
			w.t.Fatal(err)
		}
	}
	w.opened = append(w.opened, id)
	w.total += balance
}

// request records a transfer as POST /transfers does: checked against both
// accounts, appended as a new stream. A refusal up front is not an error.
func (w *world) request(ctx context.Context, id, from, to string, amount int64) (bool, error) {
	src, err := w.accounts.Load(ctx, w.accountStream(from))
	if err != nil {
		return false, err
	}
	dst, err := w.accounts.Load(ctx, w.accountStream(to))
	if err != nil {
		return false, err
	}
	req, err := transfer.Decide(src.State, dst.State, transfer.Request{TransferID: id, FromAccountID: from, ToAccountID: to, Amount: amount})
	if err != nil {
		return false, nil
	}
	stream, err := app.TransferStream(w.tenant, id)
	if err != nil {
		return false, err
	}
	evs, err := app.EncodeTransfer(req)
	if err != nil {
		return false, err
	}
	if _, err := w.store.Append(ctx, eventstore.NewStream(stream), evs, eventstore.Metadata{CommandID: "request-" + id, CorrelationID: "corr-" + id}, nil); err != nil {
		return false, err
	}
	w.mu.Lock()
	w.requested = append(w.requested, id)
	w.mu.Unlock()
	return true, nil
}

// deliver runs process manager invocations until the shard is closed and
// drained: batches of one to three records, a failed record (and those
// after it) delivered again, a few records duplicated, and, one time in
// four, failed ones dropped as if their retries ran out (the sweeper's).
func (w *world) deliver(ctx context.Context, seed uint64, workers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(100+i)))
			mctx := context.WithValue(ctx, managerKey{}, true)
			for {
				keys := w.shard.take(rng, 1+rng.IntN(3))
				if keys == nil {
					return
				}
				var ev events.KinesisEvent
				for j, k := range keys {
					r := events.KinesisEventRecord{}
					r.Kinesis.PartitionKey = k
					r.Kinesis.SequenceNumber = strconv.Itoa(j)
					ev.Records = append(ev.Records, r)
				}
				resp, err := w.handler.Handle(mctx, ev)
				if err != nil {
					w.t.Error(err)
				}
				again := len(keys)
				for _, f := range resp.BatchItemFailures {
					j, _ := strconv.Atoi(f.ItemIdentifier)
					again = min(again, j)
				}
				if again < len(keys) && rng.IntN(4) > 0 {
					w.shard.put(keys[again:]...)
				}
				if rng.IntN(10) == 0 {
					w.shard.put(keys[0])
				}
				w.shard.done()
			}
		}()
	}
	return &wg
}

// pendingOf lists the transfers whose streams are still pending, in the
// order they were requested: the sweeper's view, exact.
type pendingOf struct{ w *world }

func (p pendingOf) PendingBefore(ctx context.Context, _ time.Time, from app.Stuck, limit int) ([]app.Stuck, error) {
	var out []app.Stuck
	ids := p.w.requested
	if from.TransferID != "" {
		ids = ids[slices.Index(ids, from.TransferID)+1:]
	}
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		stream, _ := app.TransferStream(p.w.tenant, id)
		cur, err := p.w.transfers.Load(ctx, stream)
		if err != nil {
			return nil, err
		}
		if cur.State.Status == transfer.StatusPending {
			out = append(out, app.Stuck{Tenant: p.w.tenant, TransferID: id})
		}
	}
	return out, nil
}

// outcome is what one run ended with, for the checks across seeds.
type outcome struct {
	completed, failed, refunded int
	reasons                     map[string]int
	swept                       int
	injected                    map[string]int
}

// run plays one seed: a first phase that reaches the failure paths for
// sure (a source closed before its debit, a destination closed after it),
// then many concurrent random transfers among a few accounts, then a
// sweep; and checks the invariants.
func run(t testing.TB, backend eventstore.Backend, seed uint64, n, workers int) outcome {
	// A deadline, so that a store call that hangs fails the seed instead
	// of the whole test binary's timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	tenant := fmt.Sprintf("t%d", seed)
	w := newWorld(t, backend, seed, tenant)
	w.open(ctx, "A", 10_000, 0)
	w.open(ctx, "B", 5_000, 1_000)
	w.open(ctx, "C", 0, 3_000)
	w.open(ctx, "E", 0, 0) // closes with transfers to it recorded
	w.open(ctx, "F", 0, 0) // closes with transfers from it recorded
	// Near the balance limit: some transfers to it complete, and the ones
	// that would take it past the limit are refunded.
	w.open(ctx, "D", account.MaxBalance-2_000, 0)
	wg := w.deliver(ctx, seed, workers)

	for _, r := range []struct{ id, from, to string }{{"x-ae", "A", "E"}, {"x-be", "B", "E"}, {"x-fa", "F", "A"}} {
		if ok, err := w.request(ctx, r.id, r.from, r.to, 100); err != nil || !ok {
			t.Fatalf("request %s: %v %v", r.id, ok, err)
		}
	}
	// Closing E and F now only races the process manager, which is the
	// point: whichever wins, nothing is lost.
	for _, id := range []string{"E", "F"} {
		if err := w.command(ctx, id, account.Close{}); err != nil && !errors.Is(err, account.ErrAccountNotEmpty) && !errors.Is(err, account.ErrTransfersInFlight) {
			t.Fatalf("close %s: %v", id, err)
		}
	}

	var rwg sync.WaitGroup
	errs := make(chan error, 2)
	for r := range 2 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(10+r)))
			ids := []string{"A", "B", "C", "E", "D"}
			for i := range n / 2 {
				from, to := ids[rng.IntN(3)], ids[rng.IntN(len(ids))]
				if _, err := w.request(ctx, fmt.Sprintf("t%d-%d", r, i), from, to, 1+rng.Int64N(3_000)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	w.shard.close()
	wg.Wait()

	// What the manager gave up on (dropped records), the sweeper finishes.
	// Pages of 3 transfers: a sweep reads the whole list, page by page.
	rep, err := app.Sweep(ctx, w.manager, pendingOf{w}, nil, time.Now(), 3)
	if err != nil {
		t.Fatalf("sweep: %v (%+v)", err, rep)
	}
	return w.check(ctx, rep.Found)
}

func (w *world) check(ctx context.Context, swept int) outcome {
	t := w.t
	t.Helper()
	out := outcome{reasons: map[string]int{}, swept: swept, injected: w.faults.injected}
	type legs struct{ out, in int }
	byTransfer := map[string]map[string]*legs{} // transfer -> account -> legs
	var sum int64
	for _, id := range w.opened {
		cur, err := w.accounts.Load(ctx, w.accountStream(id))
		if err != nil {
			t.Fatal(err)
		}
		a := cur.State
		sum += a.Balance
		if a.Balance < -a.OverdraftLimit {
			t.Errorf("account %s: balance %d below its overdraft limit %d", id, a.Balance, a.OverdraftLimit)
		}
		if a.Balance > account.MaxBalance {
			t.Errorf("account %s: balance %d past the balance limit", id, a.Balance)
		}
		if len(a.TransfersInFlight) > 0 {
			t.Errorf("account %s: transfers still in flight %v", id, a.TransfersInFlight)
		}
		for e := range w.events(ctx, w.accountStream(id)) {
			ev, err := app.Decode(e)
			if err != nil {
				t.Fatal(err)
			}
			var tid string
			var dir int
			switch ev := ev.(type) {
			case account.MoneyWithdrawn:
				tid, dir = ev.TransferID, -1
			case account.MoneyDeposited:
				tid, dir = ev.TransferID, 1
			}
			if tid == "" {
				continue
			}
			if byTransfer[tid] == nil {
				byTransfer[tid] = map[string]*legs{}
			}
			l := byTransfer[tid][id]
			if l == nil {
				l = &legs{}
				byTransfer[tid][id] = l
			}
			if dir < 0 {
				l.out++
			} else {
				l.in++
			}
		}
	}
	if sum != w.total {
		t.Errorf("sum of balances %d, want %d: money was lost or created", sum, w.total)
	}
	for _, id := range w.requested {
		stream, _ := app.TransferStream(w.tenant, id)
		cur, err := w.transfers.Load(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		tr := cur.State
		get := func(acc string) legs {
			if l := byTransfer[id][acc]; l != nil {
				return *l
			}
			return legs{}
		}
		src, dst := get(tr.FromAccountID), get(tr.ToAccountID)
		var want [2]legs
		switch {
		case tr.Status == transfer.StatusCompleted:
			out.completed++
			want = [2]legs{{out: 1}, {in: 1}}
		case tr.Status == transfer.StatusFailed && tr.Refunded:
			out.failed++
			out.refunded++
			out.reasons[tr.Reason]++
			want = [2]legs{{out: 1, in: 1}, {}}
		case tr.Status == transfer.StatusFailed:
			out.failed++
			out.reasons[tr.Reason]++
		default:
			t.Errorf("transfer %s ended %q, neither completed nor failed", id, tr.Status)
			continue
		}
		if src != want[0] || dst != want[1] {
			t.Errorf("transfer %s (%s, %s): legs on source %+v and destination %+v, want %+v and %+v",
				id, tr.Status, tr.Reason, src, dst, want[0], want[1])
		}
		if tr.CorrelationID != "corr-"+id {
			t.Errorf("transfer %s: correlation id %q not carried", id, tr.CorrelationID)
		}
	}
	// Each either got through before the close or failed on it (F, empty,
	// fails anyway when its debit comes first).
	for id, allowed := range map[string][]string{
		"x-ae": {transfer.ReasonAccountClosed},
		"x-fa": {transfer.ReasonAccountClosed, transfer.ReasonInsufficientFunds},
	} {
		stream, _ := app.TransferStream(w.tenant, id)
		cur, _ := w.transfers.Load(ctx, stream)
		if s := cur.State; s.Status == transfer.StatusFailed && !slices.Contains(allowed, s.Reason) {
			t.Errorf("transfer %s failed for %q, want one of %q", id, s.Reason, allowed)
		}
	}
	return out
}

// events yields every event of a stream.
func (w *world) events(ctx context.Context, stream eventstore.StreamID) func(func(eventstore.Event) bool) {
	return func(yield func(eventstore.Event) bool) {
		for from := int64(1); from > 0; {
			page, err := w.store.Read(ctx, stream, from, 1000)
			if err != nil {
				w.t.Fatal(err)
			}
			for _, e := range page.Events {
				if !yield(e) {
					return
				}
			}
			from = page.Next
		}
	}
}

func TestTransfersNeverLoseOrCreateMoney(t *testing.T) {
	seeds, n := 8, 60
	if long() {
		seeds, n = 200, 200
	}
	var total outcome
	total.reasons = map[string]int{}
	total.injected = map[string]int{}
	for seed := range uint64(seeds) {
		o := run(t, eventstore.NewMemoryBackend(), seed, n, 4)
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
		total.completed += o.completed
		total.failed += o.failed
		total.refunded += o.refunded
		total.swept += o.swept
		for k, v := range o.reasons {
			total.reasons[k] += v
		}
		for k, v := range o.injected {
			total.injected[k] += v
		}
	}
	t.Logf("completed %d, failed %d (refunded %d) %v, swept %d, faults %v",
		total.completed, total.failed, total.refunded, total.reasons, total.swept, total.injected)
	// The runs must have gone down every path, or they prove little.
	switch {
	case total.completed == 0, total.refunded == 0, total.reasons[transfer.ReasonInsufficientFunds] == 0,
		total.reasons[transfer.ReasonAccountClosed] == 0, total.reasons[transfer.ReasonBalanceLimit] == 0, total.swept == 0,
		total.injected["killed"] == 0, total.injected["lost reply"] == 0, total.injected["before"] == 0:
		t.Errorf("some path was never taken: %+v", total)
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The same run on moto: the real DynamoDB backend, its transactions and
// conditional writes, with fewer transfers (moto serves one request at a
// time).
func TestTransfersNeverLoseOrCreateMoneyOnDynamoDB(t *testing.T) {
	seeds, n := 1, 16
	if long() {
		seeds, n = 4, 60
	}
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	for seed := range uint64(seeds) {
		o := run(t, dynamostore.New(db, table), 1000+seed, n, 3)
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
		t.Logf("seed %d: completed %d, failed %d (refunded %d) %v, faults %v", seed, o.completed, o.failed, o.refunded, o.reasons, o.injected)
		if o.completed == 0 || o.injected["killed"] == 0 {
			t.Errorf("seed %d took no completion or no crash: %+v", seed, o)
		}
	}
}
