package localsources_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/fanout"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/localsources"
	"annals/internal/localaws/samtemplate"
)

// The project's FanoutFunction source, run against a table and stream made
// from the template, with the real event store writing and the real fan-out
// handling: every commit reaches Kinesis once, as its envelope, and the
// template's filter keeps guards and snapshots from the handler.
func TestFanoutSourceDeliversEveryCommit(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	kstream := awstest.KinesisStream(t, "EventsStream")
	ctx := t.Context()

	store := eventstore.New(dynamostore.New(db, table), eventstore.WithSnapshotEvery(2))
	agg := eventstore.NewAggregate(store, eventstore.Fold[int]{
		Name: "count", LogicVersion: 1, StateSchema: 1,
		Evolve: func(n int, _ eventstore.Event) (int, error) { return n + 1, nil },
	})
	var commits [][]eventstore.Event
	guards, snapshots := 0, 0
	appendTo := func(cur eventstore.Current[int], n int, cmd string, guard *eventstore.Guard) eventstore.Current[int] {
		t.Helper()
		var evs []eventstore.NewEvent
		for j := range n {
			evs = append(evs, eventstore.NewEvent{Type: "Deposited", SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"amount":%d}`, j+1))})
		}
		next, committed, err := agg.Append(ctx, cur, evs, eventstore.Metadata{CommandID: cmd, Actor: "alice"}, guard)
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, committed)
		if guard != nil {
			guards++
		}
		if cur.Head.Version()/2 != next.Head.Version()/2 {
			snapshots++
		}
		return next
	}
	for i := range 5 {
		id, err := eventstore.NewStreamID("acme", "account", fmt.Sprint("f", i))
		if err != nil {
			t.Fatal(err)
		}
		cur := appendTo(eventstore.Current[int]{Head: eventstore.NewStream(id)}, 2, fmt.Sprint("open-", i), nil)
		if i%2 == 0 {
			cur = appendTo(cur, 1, fmt.Sprint("key-", i), &eventstore.Guard{Tenant: "acme", CommandID: fmt.Sprint("key-", i)})
			appendTo(cur, 1, fmt.Sprint("more-", i), nil)
		}
	}

	sources, err := awstest.Template(t).EventSources()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sources, func(s samtemplate.EventSource) bool { return s.Function == "FanoutFunction" })
	if i < 0 {
		t.Fatal("template.yaml has no event source for FanoutFunction")
	}
	// Its on-failure queue: the source never gives up (unbounded retries),
	// but it is configured with the template's destination.
	dlq := awstest.Queue(t, sources[i].OnFailure)
	r, err := localsources.New(localsources.Config{
		Sources:  sources[i : i+1],
		Names:    map[string]string{"EventsTable": table, sources[i].OnFailure: path.Base(dlq)},
		DynamoDB: db,
		Streams:  dynamodbstreams.NewFromConfig(awstest.Config(t, "DYNAMODB_STREAMS")),
		SQS:      awstest.SQS(t),
		Interval: 50 * time.Millisecond,
		Log:      slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := fanout.New(fanout.Config{Kinesis: awstest.Kinesis(t), Stream: kstream, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	kinds := map[string]int{}
	r.Register("FanoutFunction", localsources.JSONHandler(func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, rec := range ev.Records {
			// The store tells a commit from its other items.
			kind := "commit"
			it, err := fanout.Item(rec.Change.NewImage)
			if err == nil {
				_, err = eventstore.DecodeCommit(it)
			}
			if err != nil {
				kind = err.Error()
			}
			kinds[rec.EventName+" "+kind]++
		}
		return h.Handle(ctx, ev)
	}))
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.Drain(dctx); err != nil {
		t.Fatal(err)
	}

	if want := map[string]int{"INSERT commit": len(commits)}; !maps.Equal(kinds, want) {
		t.Errorf("the handler got %v, want only %v", kinds, want)
	}
	st := r.Stats()[0]
	dropped := int64(guards + snapshots)
	if st.Seen != int64(len(commits))+dropped || st.Filtered != dropped || st.Delivered != int64(len(commits)) ||
		st.Failed != 0 || st.Retries != 0 || st.Behind != 0 || st.Shards != 1 || st.Source != table {
		t.Errorf("stats %+v; want %d seen, %d filtered (%d guards, %d snapshots), %d delivered, one shard of %s",
			st, int64(len(commits))+dropped, dropped, guards, snapshots, len(commits), table)
	}
	if guards == 0 || snapshots == 0 {
		t.Fatalf("the test wrote %d guards and %d snapshots; it needs both", guards, snapshots)
	}

	want := map[string][]eventstore.Event{}
	for _, c := range commits {
		want[c[0].CommitID] = c
	}
	got := awstest.ReadKinesis(t, kstream, len(commits))
	if len(got) != len(commits) {
		t.Errorf("%d records on Kinesis, want one per commit (%d)", len(got), len(commits))
	}
	seen := map[string]bool{}
	for _, rec := range got {
		evs, err := envelope.Decode(rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		id := evs[0].CommitID
		w, ok := want[id]
		if !ok || seen[id] {
			t.Errorf("commit %s: unknown or sent twice", id)
			continue
		}
		seen[id] = true
		if key := aws.ToString(rec.PartitionKey); key != w[0].Stream.Key() {
			t.Errorf("commit %s under partition key %q, want %q", id, key, w[0].Stream.Key())
		}
		if len(evs) != len(w) {
			t.Errorf("commit %s has %d events, want %d", id, len(evs), len(w))
			continue
		}
		for j := range w {
			if evs[j].ID != w[j].ID || evs[j].Version != w[j].Version || evs[j].Type != w[j].Type || !evs[j].RecordedAt.Equal(w[j].RecordedAt) {
				t.Errorf("commit %s event %d = %+v, want %+v", id, j, evs[j], w[j])
			}
		}
	}
}

const consumerTemplate = `
Resources:
  Stream:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 1
  DeadLetters:
    Type: AWS::SQS::Queue
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Records:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Stream.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            MaximumRetryAttempts: 1
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt DeadLetters.Arn
            FilterCriteria:
              Filters:
                - Pattern: '{"data": {"keep": [true]}}'
`

// consumer is a Kinesis stream and a queue made from consumerTemplate for
// this test, and a runner of its Consumer source.
type consumer struct {
	stream, queue string
	k             *kinesis.Client
	sqs           *sqs.Client
	runner        *localsources.Runner
}

func newConsumer(t *testing.T) *consumer {
	t.Helper()
	p := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(p, []byte(consumerTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c := &consumer{k: awstest.Kinesis(t), sqs: sqs.NewFromConfig(awstest.Config(t, "SQS"))}

	in, err := tpl.Stream("Stream", awstest.Name(t, "Stream"))
	if err != nil {
		t.Fatal(err)
	}
	c.stream = aws.ToString(in.StreamName)
	if _, err := c.k.CreateStream(ctx, in); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.k.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(c.stream)}); err != nil {
			t.Errorf("delete stream %s: %v", c.stream, err)
		}
	})
	waiter := kinesis.NewStreamExistsWaiter(c.k, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 500*time.Millisecond
	})
	if err := waiter.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(c.stream)}, time.Minute); err != nil {
		t.Fatal(err)
	}

	c.queue = awstest.Name(t, "DeadLetters")
	q, err := c.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(c.queue)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}); err != nil {
			t.Errorf("delete queue %s: %v", c.queue, err)
		}
	})

	sources, err := tpl.EventSources()
	if err != nil {
		t.Fatal(err)
	}
	c.runner, err = localsources.New(localsources.Config{
		Sources:  sources,
		Names:    map[string]string{"Stream": c.stream, "DeadLetters": c.queue},
		Kinesis:  c.k,
		SQS:      c.sqs,
		Interval: 20 * time.Millisecond,
		Log:      slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// put writes the records in order and returns their sequence numbers.
func (c *consumer) put(t *testing.T, data ...string) []string {
	t.Helper()
	var seqs []string
	for _, d := range data {
		out, err := c.k.PutRecord(t.Context(), &kinesis.PutRecordInput{
			StreamName: aws.String(c.stream), PartitionKey: aws.String("k"), Data: []byte(d),
		})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	return seqs
}

// deadLetters receives the queue's messages until want have arrived.
func (c *consumer) deadLetters(t *testing.T, want int) []localsources.FailureRecord {
	t.Helper()
	url, err := c.sqs.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(c.queue)})
	if err != nil {
		t.Fatal(err)
	}
	var out []localsources.FailureRecord
	for _, body := range awstest.ReadQueue(t, aws.ToString(url.QueueUrl), want) {
		var f localsources.FailureRecord
		if err := json.Unmarshal([]byte(body), &f); err != nil {
			t.Fatalf("failure record %s: %v", body, err)
		}
		out = append(out, f)
	}
	return out
}

func drain(t *testing.T, r *localsources.Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

type kept struct {
	Keep bool `json:"keep"`
	N    int  `json:"n"`
}

// A record the handler reports as failed is resent with the records after
// it, and no earlier; records the filter rejects never reach the handler.
func TestKinesisSourceResendsFromTheReportedRecord(t *testing.T) {
	t.Parallel()
	c := newConsumer(t)
	seqs := c.put(t,
		`{"keep":true,"n":0}`, `{"keep":false,"n":100}`, `{"keep":true,"n":1}`, `not json`,
		`{"keep":true,"n":2}`, `{"n":101}`, `{"keep":true,"n":3}`, `{"keep":true,"n":4}`)
	seqOf := map[int]string{0: seqs[0], 1: seqs[2], 2: seqs[4], 3: seqs[6], 4: seqs[7]}

	var batches [][]int
	failed := false
	c.runner.Register("Consumer", localsources.JSONHandler(func(_ context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
		var batch []int
		resp := events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}
		for _, r := range ev.Records {
			var k kept
			if err := json.Unmarshal(r.Kinesis.Data, &k); err != nil {
				t.Errorf("record %s: %v", r.Kinesis.SequenceNumber, err)
			}
			if r.Kinesis.SequenceNumber != seqOf[k.N] || r.Kinesis.PartitionKey != "k" || r.EventSource != "aws:kinesis" ||
				r.Kinesis.ApproximateArrivalTimestamp.IsZero() || !strings.HasPrefix(r.EventID, "shardId-") {
				t.Errorf("record %d delivered as %+v", k.N, r)
			}
			batch = append(batch, k.N)
			if k.N == 1 && !failed {
				failed = true
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
			}
		}
		batches = append(batches, batch)
		return resp, nil
	}))
	drain(t, c.runner)

	if want := [][]int{{0, 1}, {1, 2}, {3, 4}}; !slices.EqualFunc(batches, want, slices.Equal) {
		t.Errorf("batches %v, want %v", batches, want)
	}
	st := c.runner.Stats()[0]
	if st.Seen != 8 || st.Filtered != 3 || st.Delivered != 5 || st.Retries != 1 || st.Failed != 0 || st.Invocations != 3 || st.Behind != 0 {
		t.Errorf("stats %+v; want 8 seen, 3 filtered, 5 delivered, 1 retry, 3 invocations", st)
	}

	// Records written after a drain are delivered by the next one, from
	// where the last one stopped.
	batches = nil
	seqOf[5] = c.put(t, `{"keep":false}`, `{"keep":true,"n":5}`)[1]
	drain(t, c.runner)
	if want := [][]int{{5}}; !slices.EqualFunc(batches, want, slices.Equal) {
		t.Errorf("batches after more records %v, want %v", batches, want)
	}
}

// A batch that keeps failing is retried MaximumRetryAttempts times, then
// named in a failure record on the OnFailure queue, and polling moves on.
func TestKinesisSourceGivesUpAfterTheRetries(t *testing.T) {
	t.Parallel()
	c := newConsumer(t)
	seqs := c.put(t, `{"keep":true,"n":0}`, `{"keep":true,"n":1}`, `{"keep":false}`, `{"keep":true,"n":2}`)
	var calls [][]string
	c.runner.Register("Consumer", func(_ context.Context, event []byte) ([]byte, error) {
		var ev events.KinesisEvent
		if err := json.Unmarshal(event, &ev); err != nil {
			t.Error(err)
		}
		var batch []string
		for _, r := range ev.Records {
			batch = append(batch, r.Kinesis.SequenceNumber)
		}
		calls = append(calls, batch)
		return nil, fmt.Errorf("the database is down")
	})
	drain(t, c.runner)

	first, second := []string{seqs[0], seqs[1]}, []string{seqs[3]}
	if want := [][]string{first, first, second, second}; !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("invocations %v, want each batch twice (one retry) %v", calls, want)
	}
	st := c.runner.Stats()[0]
	if st.Failed != 3 || st.Retries != 2 || st.Delivered != 0 || st.Filtered != 1 || st.Invocations != 4 || st.Behind != 0 {
		t.Errorf("stats %+v; want 3 failed, 2 retries, 1 filtered, 4 invocations", st)
	}

	got := c.deadLetters(t, 2)
	slices.SortFunc(got, func(a, b localsources.FailureRecord) int {
		return strings.Compare(a.KinesisBatch.StartSequenceNumber, b.KinesisBatch.StartSequenceNumber)
	})
	for i, want := range []localsources.FailureBatchInfo{
		{StartSequenceNumber: seqs[0], EndSequenceNumber: seqs[1], BatchSize: 2},
		{StartSequenceNumber: seqs[3], EndSequenceNumber: seqs[3], BatchSize: 1},
	} {
		f := got[i]
		b := f.KinesisBatch
		if b == nil || f.DDBStreamBatch != nil {
			t.Fatalf("failure record %+v has no Kinesis batch", f)
		}
		if b.StartSequenceNumber != want.StartSequenceNumber || b.EndSequenceNumber != want.EndSequenceNumber || b.BatchSize != want.BatchSize ||
			!strings.HasPrefix(b.ShardID, "shardId-") || !strings.Contains(b.StreamArn, c.stream) {
			t.Errorf("failure record %d batch %+v, want %+v on a shard of %s", i, *b, want, c.stream)
		}
		if f.RequestContext.Function != "Consumer" || f.RequestContext.Condition != "RetryAttemptsExhausted" ||
			f.RequestContext.ApproximateInvokeCount != 2 || !strings.Contains(f.Reason, "the database is down") ||
			f.ResponseContext.FunctionError != "Unhandled" {
			t.Errorf("failure record %d = %+v", i, f)
		}
	}
}

// Run delivers records as they are written, until its context ends.
func TestRunDeliversUntilCancelled(t *testing.T) {
	t.Parallel()
	c := newConsumer(t)
	var mu sync.Mutex
	var got []int
	c.runner.Register("Consumer", localsources.JSONHandler(func(_ context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			var k kept
			if err := json.Unmarshal(r.Kinesis.Data, &k); err != nil {
				t.Error(err)
			}
			got = append(got, k.N)
		}
		return events.KinesisEventResponse{}, nil
	}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.runner.Run(ctx) }()

	c.put(t, `{"keep":true,"n":1}`, `{"keep":false,"n":2}`, `{"keep":true,"n":3}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run delivered %d records in 10 s, want 2", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, []int{1, 3}) {
		t.Errorf("delivered %v, want [1 3]", got)
	}
	if st := c.runner.Stats()[0]; st.Delivered != 2 || st.Filtered != 1 {
		t.Errorf("stats %+v; want 2 delivered, 1 filtered", st)
	}
}
