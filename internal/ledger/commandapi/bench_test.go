package commandapi_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"annals/internal/kit/benchtest"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/httpapi/httpapitest"
	"annals/internal/kit/personal"
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
// requests themselves are counted where they reach the store: a wrapper
// around the event store's Backend counts each call as the DynamoDB
// operation it is, and against moto the Wire also counts the HTTP requests
// the server received. A benchmark stops if these counts
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

func benchID() string { return uuid.Must(uuid.NewV7()).String() }

// benchHandler is wired as internal/wiring wires the command function: UUIDv7 ids, the
// wall clock, K=10, and with warm, the function's cache of states.
func benchHandler(backend eventstore.Backend, warm bool, log *slog.Logger) *commandapi.Handler {
	opts := []eventstore.Option{eventstore.WithSnapshotEvery(benchK), eventstore.WithIDs(benchID), eventstore.WithLogger(log)}
	if warm {
		opts = append(opts, eventstore.WithCache(eventstore.NewCache(8<<20)))
	}
	return commandapi.New(commandapi.Config{
		Vault: personal.NewVault(personal.NewMemoryKeys()),
		Store: eventstore.New(backend, opts...), Now: time.Now, NewID: benchID, Log: log,
	})
}

// benchRig is a handler whose requests to the store are counted.
type benchRig struct {
	h       *commandapi.Handler
	counted benchtest.Handler
	// seed writes, outside the counted path, an account that has seen K+1
	// deposits and returns its id.
	seed func(*testing.B) string
	// events reads the events table, outside the counted path.
	events eventstore.Backend
}

// newBenchRig returns a rig in memory or on moto, with a cold handler (an
// instance that has seen no account) or a warm one (its cache on).
func newBenchRig(b *testing.B, moto, warm bool) *benchRig {
	store := &benchtest.Calls{}
	// The store, in memory as on DynamoDB, reports every request to the
	// handler's Meter.
	r := &benchRig{counted: benchtest.Handler{Logged: httpapitest.NewLineCounter("command"), Metered: []*benchtest.Calls{store}}}
	log := r.counted.Logged.Logger()
	if !moto {
		backend := eventstore.NewMemoryBackend()
		r.h = benchHandler(benchtest.Backend{Backend: backend, Calls: store}, warm, log)
		r.seed = func(b *testing.B) string { return benchSeed(b, backend) }
		r.events = backend
		return r
	}
	db := awstest.DynamoDB(b)
	eventsTable := awstest.Table(b, db, "EventsTable")
	wire := awstest.NewWire()
	r.counted.Wire = wire
	// One attempt: no SDK retry can put a request on the wire that the
	// store did not send, so the counts must be equal.
	client := awstest.DynamoDBOver(b, wire, 1)
	r.events = dynamostore.New(db, eventsTable)
	r.h = benchHandler(benchtest.Backend{Backend: dynamostore.New(client, eventsTable), Calls: store}, warm, log)
	r.seed = func(b *testing.B) string {
		// The seeded items are byte for byte those the handler writes,
		// without a hundred round trips to moto.
		src := eventstore.NewMemoryBackend()
		id := benchSeed(b, src)
		awstest.PutItems(b, db, eventsTable, benchtest.Items(b, src))
		return id
	}
	return r
}

// benchSeed opens an account and deposits into it K+1 times through a
// handler of its own on backend: its stream then holds K+2 commits and a
// snapshot, as any account that has seen more than K commands; a load
// reads the newest commit, which keeps the account's state.
func benchSeed(b *testing.B, backend eventstore.Backend) string {
	h := benchHandler(backend, false, slog.New(slog.DiscardHandler))
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
// (and so wrote a snapshot) and how many accounts it used (a warm handler
// loads each once). Each deposit must move its account on by exactly one
// version.
func (r *benchRig) depositLoop(b *testing.B, keyed bool) (snapshots, accounts int, accountID string) {
	var (
		ev      events.APIGatewayV2HTTPRequest
		version int64
		n       int
	)
	next := func() {
		accountID = r.seed(b)
		accounts++
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
			this.Headers = maps.Clone(ev.Headers)
			this.Headers["idempotency-key"] = uuid.NewString()
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
	return snapshots, accounts, accountID
}

// The command Lambda's requests, one per op. A cold instance has seen no
// account it is asked about and loads it (one Query); a warm one (-warm)
// has, and decides on the state it kept.
func BenchmarkHandle(b *testing.B) {
	benchtest.InMemoryAndOnMoto(b, func(b *testing.B, moto bool) {
		for _, warm := range []bool{false, true} {
			suffix := ""
			if warm {
				suffix = "-warm"
			}
			// loads is what a loop over these accounts reads: each op
			// cold, each account once warm.
			loads := func(n, accounts int) int {
				if warm {
					return accounts
				}
				return n
			}

			// A deposit without a key: load, decide, append one event
			// (one PutItem), and a snapshot PutItem every K.
			b.Run("deposit"+suffix, func(b *testing.B) {
				r := newBenchRig(b, moto, warm)
				snapshots, accounts, id := r.depositLoop(b, false)
				r.report(b, map[string]int{"Query": loads(b.N, accounts), "PutItem": b.N + snapshots})
				r.commitBytes(b, id)
			})

			// A deposit with a new Idempotency-Key: load, append the
			// commit and the key's guard, which keeps the response (one
			// TransactWriteItems), and a snapshot PutItem every K.
			b.Run("deposit-new-key"+suffix, func(b *testing.B) {
				r := newBenchRig(b, moto, warm)
				snapshots, accounts, id := r.depositLoop(b, true)
				r.report(b, map[string]int{"Query": loads(b.N, accounts), "TransactWriteItems": b.N, "PutItem": snapshots})
				r.commitBytes(b, id)
			})

			// A repeat of a request whose key committed: decided again,
			// its transaction is refused by the guard, which comes back
			// with the response to replay.
			b.Run("replay-key"+suffix, func(b *testing.B) {
				r := newBenchRig(b, moto, warm)
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
				r.report(b, map[string]int{"Query": loads(b.N, 0), "TransactWriteItems": b.N})
			})
		}

		// A refused withdrawal with a new key: the refusal is decided on
		// a fresh load, warm or not, and kept for a repeat with one
		// conditional PutItem of the guard alone.
		b.Run("refused-new-key", func(b *testing.B) {
			r := newBenchRig(b, moto, false)
			id := r.seed(b)
			ev := req{path: "/accounts/" + id + "/withdrawals", body: `{"amount":999999999}`}.event()
			r.counted.Start()
			for b.Loop() {
				this := ev
				this.Headers = maps.Clone(ev.Headers)
				this.Headers["idempotency-key"] = uuid.NewString()
				benchDo(b, r.h, this, 422)
			}
			r.report(b, map[string]int{"Query": b.N, "PutItem": b.N})
		})

		// Asking for a transfer: load both accounts (a Query each),
		// check, and record the transfer's stream (one PutItem). The
		// process manager's steps are the transfers function's.
		b.Run("transfer", func(b *testing.B) {
			r := newBenchRig(b, moto, false)
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
			r := newBenchRig(b, moto, false)
			ev := req{path: "/accounts", body: benchOpen}.event()
			r.counted.Start()
			for b.Loop() {
				benchDo(b, r.h, ev, 201)
			}
			r.report(b, map[string]int{"PutItem": b.N})
		})
	})
}
