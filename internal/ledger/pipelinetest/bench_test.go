package pipelinetest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/uuid"

	"annals/internal/kit/benchtest"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/fanout"
	"annals/internal/kit/fanout/fanouttest"
	"annals/internal/kit/personal"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/projectiontest"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/processapi"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// What the pipeline does behind one deposit, after the command function
// has committed it: the fan-out's Kinesis writes, each view's writes in the
// projector, and the transfers function's reads, each counted as the
// command function's requests are (docs/benchmarks.md): where they reach
// the client or the store, on the wire against moto (SDK retries off), and,
// for DynamoDB, in a Meter the benchmark puts on the handler's context
// (none of these functions keeps one or logs one); a benchmark stops when
// they differ from each other or from what the design says. The deposits themselves are made
// outside the count by the ledger's commands on the same events table.
//
// The views are counted against moto only: their in-memory stores are not
// DynamoDB's requests. The fan-out's Kinesis client is counted in memory
// too, over a stand-in that stores nothing.

// viewWritesPerDeposit is what each view of the registry sends for one
// deposit's record, alone in its batch, on an account whose row the
// projector wrote last (the usual case: it believes it and reads nothing).
var viewWritesPerDeposit = map[string]map[string]int{
	views.AccountsView: {"PutItem": 1}, // the account row
	// The entry and the position in one transaction.
	views.HistoryView: {"TransactWriteItems": 1},
	// Not an account's business.
	views.TransfersView: {},
	// The day and the head in one transaction.
	views.StatementsView: {"TransactWriteItems": 1},
}

const depositTenant = "t1"

// depositRig makes deposits into one account with the ledger's commands,
// uncounted, and keeps the commit items they write: the table's stream
// hands the fan-out one record per commit.
type depositRig struct {
	commands *app.Commands
	commits  *benchtest.Commits
	account  string
	// On moto: the server and the events table.
	db          *dynamodb.Client
	eventsTable string
	seq         int
}

// newDepositRig opens the account; its opening's commit is the first that
// take returns.
func newDepositRig(b *testing.B, moto bool) *depositRig {
	r := &depositRig{account: "acc-" + uuid.NewString()}
	var raw eventstore.Backend = eventstore.NewMemoryBackend()
	if moto {
		r.db = awstest.DynamoDB(b)
		r.eventsTable = awstest.Table(b, r.db, "EventsTable")
		raw = dynamostore.New(r.db, r.eventsTable)
	}
	r.commits = &benchtest.Commits{Backend: raw}
	r.commands = app.NewCommands(eventstore.New(r.commits, eventstore.WithSnapshotEvery(eventstore.DefaultSnapshotEvery),
		eventstore.WithIDs(func() string { return uuid.Must(uuid.NewV7()).String() }),
		eventstore.WithCache(eventstore.NewCache(1<<20)), eventstore.WithLogger(slog.New(slog.DiscardHandler))), personal.NewVault(personal.NewMemoryKeys()), 0)
	r.execute(b, account.Open{AccountID: r.account, Owner: "alice", Currency: "EUR"})
	return r
}

func (r *depositRig) execute(b *testing.B, c account.Command) {
	if _, err := r.commands.Execute(b.Context(), app.AccountCommand{Tenant: depositTenant, AccountID: r.account, Command: c,
		Meta: eventstore.Metadata{CommandID: uuid.NewString(), CorrelationID: uuid.NewString(), Actor: "alice"}}); err != nil {
		b.Fatal(err)
	}
}

// deposit makes one deposit, as POST /accounts/{id}/deposits does.
func (r *depositRig) deposit(b *testing.B) {
	r.execute(b, account.Deposit{Amount: 1250, Reference: "invoice 000123"})
}

// take returns the commits made since the last take.
func (r *depositRig) take(b *testing.B) []eventstore.Item {
	items := r.commits.Take()
	if len(items) == 0 {
		b.Fatal("no commit was made")
	}
	return items
}

// records are the Kinesis records the fan-out makes of commits.
func (r *depositRig) records(b *testing.B, items []eventstore.Item) []events.KinesisEventRecord {
	out := make([]events.KinesisEventRecord, len(items))
	for i, it := range items {
		commit, err := eventstore.DecodeCommit(it)
		if err != nil {
			b.Fatal(err)
		}
		r.seq++
		out[i] = projectiontest.Record(b, r.seq, commit)
	}
	return out
}

// countedKinesis counts the fan-out's PutRecords where they are sent, and
// what they carry: records, bytes (data and partition key, what Kinesis
// counts of a record), and the 1 KB units an on-demand stream bills for
// the data written (each record rounded up).
type countedKinesis struct {
	fanout.Kinesis
	calls                   *benchtest.Calls
	records, bytes, kbUnits int
}

func (k *countedKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (out *kinesis.PutRecordsOutput, err error) {
	for _, e := range in.Records {
		size := len(e.Data) + len(aws.ToString(e.PartitionKey))
		k.records++
		k.bytes += size
		k.kbUnits += (size + 1023) / 1024
	}
	err = k.calls.Do("PutRecords", func() error { out, err = k.Kinesis.PutRecords(ctx, in, opts...); return err })
	return out, err
}

// acceptingKinesis stands in for Kinesis in memory: it accepts every
// record and keeps none.
type acceptingKinesis struct{ n int }

func (k *acceptingKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0)}
	for range in.Records {
		k.n++
		out.Records = append(out.Records, ktypes.PutRecordsResultEntry{
			SequenceNumber: aws.String(fmt.Sprintf("4959%020d", k.n)), ShardId: aws.String("shardId-000000000000")})
	}
	return out, nil
}

// indexWrites adds up what the global secondary indexes of a table cost
// the puts sent to it, which a client's own count leaves out: an index
// whose key attributes a put item holds is written too, one write of what
// it projects, by the item's size for an index that projects ALL (the
// accounts table's ByOwner). A put into an index of another projection
// (the transfers table's Pending) stops the benchmark: this count does not
// price it.
type indexWrites struct {
	benchtest.DynamoDBAPI
	b       *testing.B
	indexes map[string][]index // by table
	units   float64
}

type index struct {
	name string
	keys []string // key attributes
	all  bool     // projects ALL
}

func newIndexWrites(b *testing.B, db *dynamodb.Client, client benchtest.DynamoDBAPI, tables ...string) *indexWrites {
	w := &indexWrites{DynamoDBAPI: client, b: b, indexes: map[string][]index{}}
	for _, table := range tables {
		out, err := db.DescribeTable(b.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			b.Fatal(err)
		}
		for _, gsi := range out.Table.GlobalSecondaryIndexes {
			ix := index{name: aws.ToString(gsi.IndexName), all: gsi.Projection != nil && gsi.Projection.ProjectionType == types.ProjectionTypeAll}
			for _, k := range gsi.KeySchema {
				ix.keys = append(ix.keys, aws.ToString(k.AttributeName))
			}
			w.indexes[table] = append(w.indexes[table], ix)
		}
	}
	return w
}

func (w *indexWrites) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	for _, ix := range w.indexes[aws.ToString(in.TableName)] {
		if slices.ContainsFunc(ix.keys, func(k string) bool { return in.Item[k] == nil }) {
			continue
		}
		if !ix.all {
			w.b.Fatalf("a put into the index %s, which does not project ALL: not priced here", ix.name)
		}
		w.units += eventstore.WriteUnits([]eventstore.Item{in.Item}, false)
	}
	return w.DynamoDBAPI.PutItem(ctx, in, opts...)
}

func (w *indexWrites) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put != nil && len(w.indexes[aws.ToString(it.Put.TableName)]) > 0 {
			w.b.Fatalf("a transaction writes to %s, whose indexes this count does not price in a transaction", aws.ToString(it.Put.TableName))
		}
	}
	return w.DynamoDBAPI.TransactWriteItems(ctx, in, opts...)
}

// BenchmarkBehindADeposit counts, per deposit, what the functions behind
// the command function do with it: the fan-out (commits alone in their
// batch, and a hundred to a batch, the event source's BatchSize), each view
// of the projector (the deposit's record alone in its batch), and the
// transfers function (which an account's record does not concern).
func BenchmarkBehindADeposit(b *testing.B) {
	benchtest.InMemoryAndOnMoto(b, func(b *testing.B, moto bool) {
		for _, perBatch := range []int{1, 100} {
			b.Run(fmt.Sprintf("fanout/commits-per-batch=%d", perBatch), func(b *testing.B) { benchFanout(b, moto, perBatch) })
		}
		if moto {
			for _, v := range views.All {
				b.Run("projector/"+v.Name, func(b *testing.B) { benchView(b, v) })
			}
		}
		b.Run("transfers-function", func(b *testing.B) { benchTransfersFunction(b, moto) })
	})
}

// benchFanout hands the fan-out one batch of perBatch deposits' commit
// inserts per op: one PutRecords, one record per commit.
func benchFanout(b *testing.B, moto bool, perBatch int) {
	r := newDepositRig(b, moto)
	r.take(b)
	calls := &benchtest.Calls{}
	counted := benchtest.Handler{Unmetered: []*benchtest.Calls{calls}}
	var client fanout.Kinesis = &acceptingKinesis{}
	stream := "events"
	if moto {
		stream = awstest.KinesisStream(b, "EventsStream")
		wire := awstest.NewWire()
		counted.Wire = wire
		client = awstest.KinesisOver(b, wire, 1)
	}
	k := &countedKinesis{Kinesis: client, calls: calls}
	h := fanout.New(fanout.Config{Kinesis: k, Stream: stream, Log: slog.New(slog.DiscardHandler)})
	counted.Start()
	for b.Loop() {
		b.StopTimer()
		for range perBatch {
			r.deposit(b)
		}
		batch := fanouttest.Inserts(b, r.take(b))
		b.StartTimer()
		resp, err := h.Handle(b.Context(), batch)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			b.Fatalf("fan-out: %+v, %v", resp.BatchItemFailures, err)
		}
	}
	counted.Check(b, map[string]int{"PutRecords": b.N})
	commits := float64(b.N * perBatch)
	if k.records != b.N*perBatch {
		b.Fatalf("%d records for %d commits", k.records, b.N*perBatch)
	}
	b.ReportMetric(float64(b.N)/commits, "PutRecords/commit")
	b.ReportMetric(float64(k.bytes)/float64(k.records), "bytes/record")
	b.ReportMetric(float64(k.kbUnits)/commits, "KB-billed/commit")
}

// benchView runs the projector with one view, as functions/projector
// wires it over its table, on one deposit's record per op.
func benchView(b *testing.B, v views.Definition) {
	want, ok := viewWritesPerDeposit[v.Name]
	if !ok {
		b.Fatalf("no expected writes for the view %s", v.Name)
	}
	r := newDepositRig(b, true)
	viewCalls, eventCalls := &benchtest.Calls{}, &benchtest.Calls{}
	wire := awstest.NewWire()
	counted := benchtest.Handler{Meter: &benchtest.Meter{}, Metered: []*benchtest.Calls{viewCalls, eventCalls}, Wire: wire}
	// One attempt: no SDK retry can put a request on the wire that the
	// stores did not send.
	client := awstest.DynamoDBOver(b, wire, 1)
	table := awstest.Table(b, r.db, v.Table)
	indexes := newIndexWrites(b, r.db, client, table)
	quiet := slog.New(slog.DiscardHandler)
	// A gap would be filled from the events table: counted too, and not
	// expected.
	reader := eventstore.New(benchtest.Backend{Backend: dynamostore.New(client, r.eventsTable), Calls: eventCalls}, eventstore.WithLogger(quiet))
	dead := projection.NewDeadLetters(&projection.LetterBox{})
	h := projection.NewHandler(views.Decode, dead, quiet, v.New(benchtest.DynamoDB{DB: indexes, Calls: viewCalls}, table, reader, dead, quiet))
	handle := func(ctx context.Context, records ...events.KinesisEventRecord) {
		resp, err := h.Handle(ctx, events.KinesisEvent{Records: records})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			b.Fatalf("projector: %+v, %v", resp.BatchItemFailures, err)
		}
	}
	// The opening, as the projector received it before.
	handle(b.Context(), r.records(b, r.take(b))...)
	counted.Start()
	indexes.units = 0
	for b.Loop() {
		b.StopTimer()
		r.deposit(b)
		records := r.records(b, r.take(b))
		b.StartTimer()
		handle(counted.Meter.Context(b.Context()), records...)
	}
	all := map[string]int{}
	for op, n := range want {
		all[op] = n * b.N
	}
	c := counted.Check(b, all)
	n := float64(b.N)
	b.ReportMetric(c.Metered.WriteUnits/n, "WCU/op")
	b.ReportMetric(indexes.units/n, "index-WCU/op")
	b.ReportMetric(c.Metered.ReadUnits/n, "RCU/op")
}

// benchTransfersFunction hands the transfers function one deposit's
// record per op: a stream that is not a transfer's costs it nothing.
func benchTransfersFunction(b *testing.B, moto bool) {
	r := newDepositRig(b, moto)
	calls := &benchtest.Calls{}
	counted := benchtest.Handler{Meter: &benchtest.Meter{}, Metered: []*benchtest.Calls{calls}}
	// The events table the deposits went to.
	backend := r.commits.Backend
	if moto {
		wire := awstest.NewWire()
		counted.Wire = wire
		backend = dynamostore.New(awstest.DynamoDBOver(b, wire, 1), r.eventsTable)
	}
	quiet := slog.New(slog.DiscardHandler)
	h := processapi.NewHandler(app.NewManager(eventstore.New(benchtest.Backend{Backend: backend, Calls: calls},
		eventstore.WithSnapshotEvery(eventstore.DefaultSnapshotEvery), eventstore.WithLogger(quiet)), quiet, 0), quiet)
	r.take(b)
	counted.Start()
	for b.Loop() {
		b.StopTimer()
		r.deposit(b)
		records := r.records(b, r.take(b))
		b.StartTimer()
		resp, err := h.Handle(counted.Meter.Context(b.Context()), events.KinesisEvent{Records: records})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			b.Fatalf("transfers function: %+v, %v", resp.BatchItemFailures, err)
		}
	}
	counted.Check(b, nil)
}
