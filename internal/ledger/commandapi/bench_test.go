package commandapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"annals/internal/kit/benchtest"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/httpapi/httpapitest"
	"annals/internal/kit/idempotency"
	"annals/internal/ledger/app"
	"annals/internal/ledger/commandapi"
	"annals/internal/localaws/awstest"
)

// These benchmarks measure what one request to the command Lambda costs:
// DynamoDB requests by operation, capacity units and time, for each kind of
// command, on the in-memory stores and against moto.
//
// Handle installs a Meter of its own in the context it passes down, so a
// Meter around the call would count nothing; what the handler counted is read
// from its one log line per request instead (ddbRequests, wcu, rcu). The
// requests themselves are counted where they reach the stores: a wrapper
// around the event store's Backend and the idempotency Store counts each call
// as the DynamoDB operation it is, and against moto the Wire also counts the
// HTTP requests the server received. A benchmark stops if these counts
// disagree, or if they differ from what the design says a command sends.
// docs/benchmarks.md explains the figures.

const (
	benchK = eventstore.DefaultSnapshotEvery
	// A deposit benchmark moves to a freshly seeded account every so many
	// deposits (a multiple of K), so that the in-memory backend's Query,
	// which scans its whole partition, does not slow down as N grows.
	benchRotateEvery = 20 * benchK
	benchTenant      = "t1" // what req puts in the token
	benchOpen        = `{"owner":"alice","currency":"EUR","overdraftLimit":0}`
	benchDeposit     = `{"amount":1250,"reference":"invoice 000123"}`
)

// benchKeys counts the idempotency store's requests, each one DynamoDB
// request in idempotency.DynamoDB.
type benchKeys struct {
	idempotency.Store
	calls *benchtest.Calls
}

func (k benchKeys) Acquire(ctx context.Context, r idempotency.Record, now time.Time) (old *idempotency.Record, err error) {
	err = k.calls.Do("PutItem", func() error { old, err = k.Store.Acquire(ctx, r, now); return err })
	return old, err
}

func (k benchKeys) Complete(ctx context.Context, key, owner string, resp idempotency.Response, expiresAt time.Time) error {
	return k.calls.Do("UpdateItem", func() error { return k.Store.Complete(ctx, key, owner, resp, expiresAt) })
}

func (k benchKeys) Release(ctx context.Context, key, owner string) error {
	return k.calls.Do("DeleteItem", func() error { return k.Store.Release(ctx, key, owner) })
}

func benchID() string { return uuid.Must(uuid.NewV7()).String() }

// benchHandler is wired as internal/wiring wires the command function: UUIDv7 ids, the
// wall clock, K=10.
func benchHandler(backend eventstore.Backend, keys idempotency.Store, log *slog.Logger) *commandapi.Handler {
	store := eventstore.New(backend, eventstore.WithSnapshotEvery(benchK), eventstore.WithIDs(benchID), eventstore.WithLogger(log))
	return commandapi.New(commandapi.Config{
		Store: store, Idempotency: keys, Now: time.Now, NewID: benchID, Log: log,
	})
}

// benchRig is a handler whose requests to both stores are counted.
type benchRig struct {
	h       *commandapi.Handler
	counted benchtest.Handler
	// seed writes, outside the counted path, an account that has seen K+1
	// deposits and returns its id.
	seed func(*testing.B) string
	// events reads the events table, outside the counted path.
	events eventstore.Backend

	// Against moto only.
	db        *dynamodb.Client // uncounted: fixtures and checks
	keysTable string
}

func newBenchRig(b *testing.B, moto bool) *benchRig {
	store, keys := &benchtest.Calls{}, &benchtest.Calls{}
	// Both stores, in memory as on DynamoDB, report every request to the
	// handler's Meter.
	r := &benchRig{counted: benchtest.Handler{Logged: httpapitest.NewLineCounter("command"), Metered: []*benchtest.Calls{store, keys}}}
	log := r.counted.Logged.Logger()
	if !moto {
		backend := eventstore.NewMemoryBackend()
		r.h = benchHandler(benchtest.Backend{Backend: backend, Calls: store}, benchKeys{idempotency.NewMemory(), keys}, log)
		r.seed = func(b *testing.B) string { return benchSeed(b, backend) }
		r.events = backend
		return r
	}
	r.db = awstest.DynamoDB(b)
	eventsTable := awstest.Table(b, r.db, "EventsTable")
	r.keysTable = awstest.Table(b, r.db, "IdempotencyTable")
	wire := awstest.NewWire()
	r.counted.Wire = wire
	// One attempt: no SDK retry can put a request on the wire that the
	// stores did not send, so the counts must be equal.
	client := awstest.DynamoDBOver(b, wire, 1)
	r.events = dynamostore.New(r.db, eventsTable)
	r.h = benchHandler(benchtest.Backend{Backend: dynamostore.New(client, eventsTable), Calls: store},
		benchKeys{idempotency.NewDynamoDB(client, r.keysTable), keys}, log)
	r.seed = func(b *testing.B) string {
		// The seeded items are byte for byte those the handler writes,
		// without a hundred round trips to moto.
		src := eventstore.NewMemoryBackend()
		id := benchSeed(b, src)
		awstest.PutItems(b, r.db, eventsTable, benchtest.Items(b, src))
		return id
	}
	return r
}

// benchSeed opens an account and deposits into it K+1 times through a
// handler of its own on backend: its stream then holds K+2 commits and a
// snapshot, as any account that has seen more than K commands; a load
// reads the newest commit, which keeps the account's state.
func benchSeed(b *testing.B, backend eventstore.Backend) string {
	h := benchHandler(backend, idempotency.NewMemory(), slog.New(slog.DiscardHandler))
	resp := benchDo(b, h, req{path: "/accounts", body: benchOpen}.event(), 201)
	var opened struct {
		AccountID string `json:"accountId"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &opened); err != nil || opened.AccountID == "" {
		b.Fatalf("open: %s", resp.Body)
	}
	ev := req{path: "/accounts/" + opened.AccountID + "/deposits", body: benchDeposit}.event()
	for range benchK + 1 {
		benchDo(b, h, ev, 200)
	}
	return opened.AccountID
}

func benchStream(b *testing.B, accountID string) eventstore.StreamID {
	stream, err := app.AccountStream(benchTenant, accountID)
	if err != nil {
		b.Fatal(err)
	}
	return stream
}

func benchDo(b *testing.B, h *commandapi.Handler, ev events.APIGatewayV2HTTPRequest, status int) events.APIGatewayV2HTTPResponse {
	resp, err := h.Handle(b.Context(), ev)
	if err != nil {
		b.Fatalf("%s: handler returned an error: %v", ev.RawPath, err)
	}
	if resp.StatusCode != status {
		b.Fatalf("%s: status %d (%s), want %d", ev.RawPath, resp.StatusCode, resp.Body, status)
	}
	return resp
}

// benchVersion is the account version a response's ETag names.
func benchVersion(b *testing.B, resp events.APIGatewayV2HTTPResponse) int64 {
	v, err := strconv.ParseInt(strings.Trim(resp.Headers["ETag"], `"`), 10, 64)
	if err != nil {
		b.Fatalf("ETag %q: %v", resp.Headers["ETag"], err)
	}
	return v
}

// report checks that the stores, the wire and the handler's log lines agree
// on what b.N requests sent, and that it is what the design says (want, in
// all), then reports it per request.
func (r *benchRig) report(b *testing.B, want map[string]int) {
	c := r.counted.Check(b, want)
	n := float64(b.N)
	for op, k := range c.Sent {
		b.ReportMetric(float64(c.Spent[op].Nanoseconds())/float64(k), "ns/"+op)
	}
	b.ReportMetric(float64(c.Logged.Requests)/n, "logged-req/op")
	if c.Logged.WCU > 0 {
		b.ReportMetric(c.Logged.WCU/n, "WCU/op")
	}
	if c.Logged.RCU > 0 {
		b.ReportMetric(c.Logged.RCU/n, "RCU/op")
	}
}

// keyItemBytes reports the size, by DynamoDB's rules, of the idempotency
// record a key left in the table: UpdateItem and a PutItem over an existing
// item are billed on the larger of the item before and after.
func (r *benchRig) keyItemBytes(b *testing.B, key string) {
	if r.db == nil {
		return
	}
	out, err := r.db.GetItem(b.Context(), &dynamodb.GetItemInput{
		TableName: &r.keysTable,
		Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: benchTenant + "#" + key}},
	})
	if err != nil || out.Item == nil {
		b.Fatalf("read the record of key %s: %v", key, err)
	}
	b.ReportMetric(float64(eventstore.ItemSize(out.Item)), "key-item-bytes")
}

// commitBytes reports the size, by DynamoDB's rules, of the account's
// latest commit, the state it keeps included: what a load reads.
func (r *benchRig) commitBytes(b *testing.B, accountID string) {
	stream := benchStream(b, accountID)
	// In a table written before snapshots had a partition of their own,
	// the newest item may be a snapshot; the commit is right behind it.
	p, err := r.events.Query(b.Context(), eventstore.Query{PK: stream.Key(), Descending: true, Limit: 2, Consistent: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, it := range p.Items {
		if _, err := eventstore.DecodeCommit(it); err == nil {
			b.ReportMetric(float64(eventstore.ItemSize(it)), "commit-bytes")
			return
		}
	}
	b.Fatalf("no commit at the head of %s", stream)
}

// depositLoop runs one deposit per op, keyed if keyed is set, on accounts
// that have seen K+1 deposits, and returns how many crossed a multiple of K
// (and so wrote a snapshot). Each deposit must move its account on by
// exactly one version.
func (r *benchRig) depositLoop(b *testing.B, keyed bool) (snapshots int, accountID, lastKey string) {
	var (
		ev      events.APIGatewayV2HTTPRequest
		version int64
		n       int
	)
	next := func() {
		accountID = r.seed(b)
		ev = req{path: "/accounts/" + accountID + "/deposits", body: benchDeposit}.event()
		version = benchK + 2
	}
	next()
	r.counted.Start()
	for b.Loop() {
		if n++; n%benchRotateEvery == 0 {
			b.StopTimer()
			next()
			b.StartTimer()
		}
		this := ev
		if keyed {
			lastKey = uuid.NewString()
			this.Headers = maps.Clone(ev.Headers)
			this.Headers["idempotency-key"] = lastKey
		}
		v := benchVersion(b, benchDo(b, r.h, this, 200))
		if v != version+1 {
			b.Fatalf("deposit answered version %d after %d", v, version)
		}
		if version/benchK != v/benchK {
			snapshots++
		}
		version = v
	}
	return snapshots, accountID, lastKey
}

// The command Lambda's requests, one per op.
func BenchmarkHandle(b *testing.B) {
	benchtest.InMemoryAndOnMoto(b, func(b *testing.B, moto bool) {
		// A deposit without a key: load (one Query), decide, append
		// one event (one PutItem), and a snapshot PutItem every K.
		b.Run("deposit", func(b *testing.B) {
			r := newBenchRig(b, moto)
			snapshots, id, _ := r.depositLoop(b, false)
			r.report(b, map[string]int{"Query": b.N, "PutItem": b.N + snapshots})
			r.commitBytes(b, id)
		})

		// A deposit with a new Idempotency-Key: lease the key (one
		// PutItem on the idempotency table), load, append the commit
		// and its guard (one TransactWriteItems), keep the response
		// (one UpdateItem), and a snapshot PutItem every K.
		b.Run("deposit-new-key", func(b *testing.B) {
			r := newBenchRig(b, moto)
			snapshots, id, last := r.depositLoop(b, true)
			r.report(b, map[string]int{"PutItem": b.N + snapshots, "Query": b.N, "TransactWriteItems": b.N, "UpdateItem": b.N})
			r.commitBytes(b, id)
			r.keyItemBytes(b, last)
		})

		// A repeat of a request whose key already has its response: the
		// lease's PutItem fails its condition and returns the record,
		// whose response is replayed. Nothing else is sent.
		b.Run("replay-key", func(b *testing.B) {
			r := newBenchRig(b, moto)
			id := r.seed(b)
			const key = "0190f5c2-6b1e-7c3a-9d4f-1a2b3c4d5e6f"
			ev := req{path: "/accounts/" + id + "/deposits", body: benchDeposit, headers: map[string]string{"Idempotency-Key": key}}.event()
			first := benchDo(b, r.h, ev, 200)
			r.counted.Start()
			for b.Loop() {
				resp := benchDo(b, r.h, ev, 200)
				if resp.Headers["Idempotent-Replayed"] != "true" || resp.Body != first.Body {
					b.Fatalf("repeat answered %v %s, want the replay of %s", resp.Headers, resp.Body, first.Body)
				}
			}
			r.report(b, map[string]int{"PutItem": b.N})
			r.keyItemBytes(b, key)
		})

		// Asking for a transfer: load both accounts (a Query each),
		// check, and record the transfer's stream (one PutItem). The
		// process manager's steps are the transfers function's.
		b.Run("transfer", func(b *testing.B) {
			r := newBenchRig(b, moto)
			from, to := r.seed(b), r.seed(b)
			ev := req{path: "/transfers", body: fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":1}`, from, to)}.event()
			r.counted.Start()
			for b.Loop() {
				benchDo(b, r.h, ev, 202)
			}
			r.report(b, map[string]int{"Query": 2 * b.N, "PutItem": b.N})
		})

		// Opening an account: nothing to load, one PutItem.
		b.Run("open", func(b *testing.B) {
			r := newBenchRig(b, moto)
			ev := req{path: "/accounts", body: benchOpen}.event()
			r.counted.Start()
			for b.Loop() {
				benchDo(b, r.h, ev, 201)
			}
			r.report(b, map[string]int{"PutItem": b.N})
		})
	})
}
