package processapi_test

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"annals/internal/kit/benchtest"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/personal"
	"annals/internal/kit/projection/projectiontest"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/processapi"
	"annals/internal/ledger/transfer"
	"annals/internal/localaws/awstest"
)

// What a transfer costs the transfers function after POST /transfers: the
// steps its process manager takes, in DynamoDB requests by operation and
// capacity units, in memory and against moto. One op is one transfer's
// whole life in the function: the record of its request, then the records
// of the commits its steps made, each a batch as the function receives
// them from the events stream.
//
// The function keeps no Meter and logs none, so the benchmark puts one on
// the handler's context; both event store backends report every request
// to it. Requests are also counted where they reach the backend and,
// against moto, on the wire (SDK retries off). A benchmark stops if these
// disagree or if the requests are not what the design says (below).
// docs/benchmarks.md explains the figures.

const (
	benchK      = eventstore.DefaultSnapshotEvery
	benchTenant = "t1"
)

func benchID() string { return uuid.Must(uuid.NewV7()).String() }

// benchRig is the transfers function's handler over a counted events
// table, and the ledger's commands over the same table, uncounted, to
// open accounts and ask for transfers as the command function does.
type benchRig struct {
	h        *processapi.Handler
	counted  benchtest.Handler
	commits  *benchtest.Commits // what the handler's steps wrote
	commands *app.Commands
	events   *eventstore.Store // uncounted
	seq      int
}

func newBenchRig(b *testing.B, moto bool) *benchRig {
	quiet := slog.New(slog.DiscardHandler)
	calls := &benchtest.Calls{}
	// Both backends report every request to the Meter on the context.
	r := &benchRig{counted: benchtest.Handler{Meter: &benchtest.Meter{}, Metered: []*benchtest.Calls{calls}}}
	var raw, counted eventstore.Backend
	if !moto {
		raw = eventstore.NewMemoryBackend()
		counted = raw
	} else {
		db := awstest.DynamoDB(b)
		table := awstest.Table(b, db, "EventsTable")
		wire := awstest.NewWire()
		r.counted.Wire = wire
		raw = dynamostore.New(db, table)
		// One attempt: no SDK retry can put a request on the wire that
		// the store did not send.
		counted = dynamostore.New(awstest.DynamoDBOver(b, wire, 1), table)
	}
	opts := []eventstore.Option{eventstore.WithSnapshotEvery(benchK), eventstore.WithIDs(benchID), eventstore.WithLogger(quiet)}
	r.events = eventstore.New(raw, opts...)
	r.commands = app.NewCommands(r.events, personal.NewVault(personal.NewMemoryKeys()), 0)
	r.commits = &benchtest.Commits{Backend: counted}
	// Wired as functions/transfers wires it: K = 10, UUIDv7 ids, no cache.
	manager := app.NewManager(eventstore.New(benchtest.Backend{Backend: r.commits, Calls: calls}, opts...), quiet, 0)
	r.h = processapi.NewHandler(manager, quiet)
	return r
}

// open opens an account with a first deposit of balance (none for 0).
func (r *benchRig) open(b *testing.B, id string, balance int64) {
	for _, c := range []account.Command{account.Open{AccountID: id, Owner: "alice", Currency: "EUR"}, account.Deposit{Amount: balance, Reference: "seed"}} {
		if d, ok := c.(account.Deposit); ok && d.Amount == 0 {
			continue
		}
		if _, err := r.commands.Execute(b.Context(), app.AccountCommand{Tenant: benchTenant, AccountID: id, Command: c,
			Meta: eventstore.Metadata{CommandID: benchID(), CorrelationID: benchID(), Actor: "alice"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// request asks for a transfer as POST /transfers does and returns the
// Kinesis record of its commit.
func (r *benchRig) request(b *testing.B, id, from, to string) events.KinesisEventRecord {
	if _, err := r.commands.RequestTransfer(b.Context(), app.TransferCommand{Tenant: benchTenant,
		Request: transfer.Request{TransferID: id, FromAccountID: from, ToAccountID: to, Amount: 1250, Reference: "rent"},
		Meta:    eventstore.Metadata{CommandID: benchID(), CorrelationID: benchID(), Actor: "alice"}}); err != nil {
		b.Fatal(err)
	}
	stream, err := app.TransferStream(benchTenant, id)
	if err != nil {
		b.Fatal(err)
	}
	commits, err := r.events.ReadCommits(b.Context(), stream, 1, 1)
	if err != nil || len(commits) != 1 {
		b.Fatalf("the request of %s: %d commits, %v", id, len(commits), err)
	}
	return r.record(b, commits[0])
}

func (r *benchRig) record(b *testing.B, commit []eventstore.Event) events.KinesisEventRecord {
	r.seq++
	return projectiontest.Record(b, r.seq, commit)
}

// handle hands the handler one batch; none of its records may fail.
func (r *benchRig) handle(b *testing.B, records ...events.KinesisEventRecord) {
	resp, err := r.h.Handle(r.counted.Meter.Context(b.Context()), events.KinesisEvent{Records: records})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		b.Fatalf("batch of %d records: %+v, %v", len(records), resp.BatchItemFailures, err)
	}
}

// drive hands the handler the record of a transfer's request, then the
// records of the commits its steps made (one per stream of each step's
// transaction: the transfer's and the accounts'), as the fan-out publishes
// them: the steps of one run commit within milliseconds, so the events
// stream delivers them together. It returns how many of those commits
// crossed a multiple of K, each of which writes a snapshot.
func (r *benchRig) drive(b *testing.B, requested events.KinesisEventRecord) (steps, snapshots int) {
	r.handle(b, requested)
	var records []events.KinesisEventRecord
	for _, it := range r.commits.Take() {
		commit, err := eventstore.DecodeCommit(it)
		if err != nil {
			b.Fatal(err)
		}
		first, last := commit[0].Version, commit[len(commit)-1].Version
		if (first-1)/benchK != last/benchK {
			snapshots++
		}
		if commit[0].Stream.Category == app.TransferCategory {
			steps++
		}
		records = append(records, r.record(b, commit))
	}
	r.handle(b, records...)
	if extra := r.commits.Take(); len(extra) > 0 {
		b.Fatalf("the records of the steps made %d more commits", len(extra))
	}
	return steps, snapshots
}

func (r *benchRig) status(b *testing.B, id string) transfer.Transfer {
	stream, err := app.TransferStream(benchTenant, id)
	if err != nil {
		b.Fatal(err)
	}
	cur, err := app.NewTransfers(r.events).Load(b.Context(), stream)
	if err != nil {
		b.Fatal(err)
	}
	return cur.State
}

// BenchmarkTransferSteps runs one transfer through the transfers function
// per op: one that completes (debit, then credit), and one whose debit the
// source refuses (it holds nothing), which fails with nothing moved.
func BenchmarkTransferSteps(b *testing.B) {
	benchtest.InMemoryAndOnMoto(b, func(b *testing.B, moto bool) {
		for _, c := range []struct {
			name    string
			balance int64 // the source's
			status  transfer.Status
			// steps is how many the transfer takes; loads, how many
			// Queries the function sends for it.
			steps, loads int
		}{
			// The request's record: load the transfer; the debit loads
			// the source and commits the transfer's step with the
			// source's events and the step's guard (one
			// TransactWriteItems); the credit takes the transfer and the
			// source as the debit wrote them, loads the destination, and
			// commits the transfer, both accounts and the guard; the
			// transfer as the credit wrote it has ended. The steps'
			// records: the transfer's stream is named twice in the batch
			// and loaded once, ended; the accounts' are not the
			// function's business.
			{"completed", 1 << 40, transfer.StatusCompleted, 2, 2 + 1 + 1},
			// The debit is refused: one step, the transfer's failure and
			// the guard, which leaves it ended; its record, one load.
			{"failed", 0, transfer.StatusFailed, 1, 2 + 1},
		} {
			b.Run(c.name, func(b *testing.B) {
				r := newBenchRig(b, moto)
				from, to := "acc-from-"+c.name, "acc-to-"+c.name
				r.open(b, from, c.balance)
				r.open(b, to, 0)
				var (
					n, steps, snapshots int
				)
				r.counted.Start()
				for b.Loop() {
					b.StopTimer()
					n++
					id := fmt.Sprintf("tr-%s-%d", c.name, n)
					requested := r.request(b, id, from, to)
					b.StartTimer()
					s, snaps := r.drive(b, requested)
					b.StopTimer()
					if s != c.steps {
						b.Fatalf("transfer %s took %d steps, want %d", id, s, c.steps)
					}
					if t := r.status(b, id); t.Status != c.status {
						b.Fatalf("transfer %s is %s (%s), want %s", id, t.Status, t.Reason, c.status)
					}
					b.StartTimer()
					steps += s
					snapshots += snaps
				}
				counted := r.counted.Check(b, map[string]int{"Query": c.loads * b.N, "TransactWriteItems": steps, "PutItem": snapshots})
				n64 := float64(b.N)
				b.ReportMetric(counted.Metered.WriteUnits/n64, "WCU/op")
				b.ReportMetric(counted.Metered.ReadUnits/n64, "RCU/op")
			})
		}
	})
}
