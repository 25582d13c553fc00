package pipelinetest

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// A commit whose event cannot be decoded (written straight to the events
// table: the command handler would never write it) travels through the
// fan-out like any other and reaches the projector in the same Kinesis
// batch as commits of other streams. It quarantines its own stream in each
// view, at its version, with one dead letter per view; the streams after it
// in the batch are projected as if nothing happened, and nothing is
// retried.
func TestPoisonQuarantinesItsStreamOnly(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	ctx := t.Context()
	var mu sync.Mutex
	var batches [][]string // the partition keys of each batch
	p.projected = func(ev events.KinesisEvent) {
		var keys []string
		for _, r := range ev.Records {
			keys = append(keys, r.Kinesis.PartitionKey)
		}
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, keys)
	}

	open := func() eventstore.StreamID {
		t.Helper()
		r := p.send(t, "/accounts", `{"owner":"ann","currency":"EUR"}`, "")
		if r.status != 201 {
			t.Fatalf("open: %d %v", r.status, r.body)
		}
		s, err := app.AccountStream(p.tenant, r.body["accountId"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if r := p.send(t, "/accounts/"+s.ID+"/deposits", `{"amount":70,"reference":"cash"}`, ""); r.status != 200 {
			t.Fatalf("deposit: %d %v", r.status, r.body)
		}
		return s
	}

	// The poison stream: versions 1 and 2 fine, 3 poison, 4 fine again.
	bad := open()
	cur, err := app.NewAccounts(p.events).Load(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	poison, err := p.events.Append(ctx, cur.Head, []eventstore.NewEvent{
		{Type: account.TypeMoneyDeposited, SchemaVersion: account.MoneyDepositedSchemaVersion, Data: json.RawMessage(`{"amount":"lots","balanceAfter":0}`)},
	}, eventstore.Metadata{CommandID: "hand-written", Actor: "operator"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	later, err := app.Encode([]account.Event{account.MoneyDeposited{Amount: 5, Reference: "after", BalanceAfter: 75}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.events.Append(ctx, poison.Head, later, eventstore.Metadata{CommandID: "after", Actor: "operator"}, nil); err != nil {
		t.Fatal(err)
	}

	// Other accounts, written after it, until two of them share its
	// Kinesis shard (and so its batch: everything is written before the
	// sources run, and a batch holds up to 100 records).
	shard := shardFinder(t, p)
	var others []eventstore.StreamID
	sharing := 0
	for sharing < 2 || len(others) < 4 {
		s := open()
		others = append(others, s)
		if shard(s.Key()) == shard(bad.Key()) {
			sharing++
		}
		if len(others) > 40 {
			t.Fatal("40 accounts and none on the poison stream's shard")
		}
	}
	p.drain(t)

	mu.Lock()
	i := slices.IndexFunc(batches, func(keys []string) bool { return slices.Contains(keys, bad.Key()) })
	if i < 0 {
		t.Fatalf("no batch held %s: %v", bad, batches)
	}
	shared := 0
	for _, k := range batches[i][slices.Index(batches[i], bad.Key()):] {
		if k != bad.Key() {
			shared++
		}
	}
	mu.Unlock()
	if shared < 2 {
		t.Errorf("the poison's batch %v holds %d records of other streams after it, want at least 2", batches[i], shared)
	}

	// The poison stream stops before version 3 in both views.
	tr := readTruth3(t, p, bad)
	row, found, err := p.view.Account(ctx, bad.Tenant, bad.ID)
	if err != nil || !found {
		t.Fatalf("view of %s: found %v, %v", bad, found, err)
	}
	if row.Version != 2 || row.Quarantine == nil || row.Quarantine.At != 3 || !reflect.DeepEqual(row.State, tr.states[2]) ||
		!row.UpdatedAt.Equal(tr.events[1].RecordedAt) {
		t.Errorf("view of the poison stream = %+v (quarantine %+v), want the fold of versions 1..2 %+v, quarantined at 3", row, row.Quarantine, tr.states[2])
	}
	pos, found, err := p.history.Position(ctx, bad.Tenant, bad.ID)
	if err != nil || !found || pos.Version != 2 || pos.Quarantine == nil || pos.Quarantine.At != 3 {
		t.Errorf("history position of the poison stream = %+v (quarantine %+v, found %v, %v), want 2, quarantined at 3", pos, pos.Quarantine, found, err)
	}
	if got, err := p.history.Transactions(ctx, bad.Tenant, bad.ID, 0, 10); err != nil || entries(got) != entries(tr.historyOf(2)) {
		t.Errorf("history of the poison stream = %s (%v), want %s", entries(got), err, entries(tr.historyOf(2)))
	}

	// Every other stream flowed.
	for _, tr := range checkAccounts(t, ctx, p.view, p.events, others) {
		checkHistory(t, ctx, p.history, tr, true, 10)
	}
	p.checkEveryView(t, app.AccountCategory, others)

	// One letter from each view that keeps accounts, every view of the
	// registry included.
	var want []string
	for _, v := range views.All {
		if v.Category == app.AccountCategory {
			want = append(want, v.Name)
		}
	}
	letters := p.deadLetters(t, len(want))
	var seen []string
	for _, l := range letters {
		if l.Stream != bad.Key() || l.Version != 3 || len(l.Event) == 0 {
			t.Errorf("dead letter %+v, want the poison event (%s at 3)", l, bad)
		}
		seen = append(seen, l.View)
	}
	if slices.Sort(seen); !slices.Equal(seen, slices.Sorted(slices.Values(want))) || !slices.Contains(seen, views.AccountsView) {
		t.Errorf("dead letters from views %v, want one from each of %v", seen, want)
	}
	if st := p.stats(t, "ProjectorFunction"); st.Failed != 0 || st.Retries != 0 {
		t.Errorf("projector source %+v; poison is no reason to retry or give up", st)
	}
}

// readTruth3 reads a stream that holds an undecodable event: the events
// as stored, folded up to the one before the poison.
func readTruth3(t *testing.T, p *pipeline, s eventstore.StreamID) truth {
	t.Helper()
	page, err := p.events.Read(t.Context(), s, 1, 10)
	if err != nil || len(page.Events) != 4 {
		t.Fatalf("read %s: %d events, %v; want 4", s, len(page.Events), err)
	}
	tr := truth{stream: s, events: page.Events, states: []account.Account{{}}}
	var decoded []account.Event
	for _, e := range page.Events[:2] {
		ev, err := app.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		decoded = append(decoded, ev)
		tr.states = append(tr.states, account.Fold(decoded))
		if h, ok := historyEntry(s, e, ev); ok {
			tr.moves = append(tr.moves, h)
		}
	}
	return tr
}

// shardFinder returns which shard of the pipeline's Kinesis stream a
// partition key goes to: Kinesis hashes the key with MD5 into a 128-bit
// number and each shard owns a range of them.
func shardFinder(t *testing.T, p *pipeline) func(key string) string {
	t.Helper()
	out, err := awstest.Kinesis(t).ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(p.stream)})
	if err != nil {
		t.Fatal(err)
	}
	if out.NextToken != nil {
		t.Fatal("the stream has more shards than one page lists")
	}
	type span struct {
		id       string
		from, to *big.Int
	}
	var spans []span
	for _, sh := range out.Shards {
		from, ok1 := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.StartingHashKey), 10)
		to, ok2 := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.EndingHashKey), 10)
		if !ok1 || !ok2 {
			t.Fatalf("shard %s has hash range %+v", aws.ToString(sh.ShardId), sh.HashKeyRange)
		}
		spans = append(spans, span{aws.ToString(sh.ShardId), from, to})
	}
	return func(key string) string {
		sum := md5.Sum([]byte(key))
		h := new(big.Int).SetBytes(sum[:])
		for _, s := range spans {
			if h.Cmp(s.from) >= 0 && h.Cmp(s.to) <= 0 {
				return s.id
			}
		}
		panic(fmt.Sprintf("no shard owns the hash of %s", key))
	}
}
