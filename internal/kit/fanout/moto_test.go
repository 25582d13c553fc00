package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/fanout"
	"annals/internal/localaws/awstest"
)

// Commits written by the real event store to moto reach a moto Kinesis
// stream through the table's real stream records, despite a PutRecords
// answer that reports records as failed and a throttled request.
func TestCommitsReachKinesisFromTheTableStream(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	kstream := awstest.KinesisStream(t, "EventsStream")
	store := eventstore.New(dynamostore.New(db, table))
	ctx := t.Context()

	var commits []eventstore.Committed
	for i := range 6 {
		c, err := store.Append(ctx, eventstore.NewStream(stream(t, fmt.Sprint("m", i))),
			[]eventstore.NewEvent{event("AccountOpened", fmt.Sprintf(`{"owner":"o%d"}`, i)), event("Deposited", `{"amount":1}`)},
			eventstore.Metadata{CommandID: fmt.Sprint("cmd-", i), Actor: "alice"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, c)
		if i%2 == 0 { // a second, guarded commit: its guard item must be dropped
			c, err = store.Append(ctx, c.Head, []eventstore.NewEvent{event("Withdrawn", `{"amount":1}`)},
				eventstore.Metadata{CommandID: fmt.Sprint("key-", i)}, &eventstore.Guard{Tenant: "acme", CommandID: fmt.Sprint("key-", i)})
			if err != nil {
				t.Fatal(err)
			}
			commits = append(commits, c)
		}
	}

	ev := tableStreamEvent(t, db, table)
	if len(ev.Records) != len(commits)+3 {
		t.Fatalf("%d stream records, want %d commits and 3 guards", len(ev.Records), len(commits))
	}

	// The first request is stored but answered as if records 1 and 4 had
	// failed; the resend of those is throttled once.
	failedAt := []int{1, 4}
	w := awstest.NewWire()
	w.Inject = func(op string, n int) *awstest.Fault {
		if op != "PutRecords" {
			return nil
		}
		switch n {
		case 1:
			return &awstest.Fault{Forward: true, Status: 200, Body: partialFailure(len(commits), failedAt)}
		case 2:
			return awstest.Throttled("ProvisionedThroughputExceededException")
		}
		return nil
	}
	h := fanout.New(fanout.Config{
		Kinesis: awstest.KinesisOver(t, w, 1),
		Stream:  kstream,
		Log:     slog.New(slog.NewJSONHandler(t.Output(), nil)),
		Backoff: func(int) time.Duration { return 5 * time.Millisecond },
	})
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := h.Handle(hctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want everything sent", resp, err)
	}
	if n := w.Counts()["PutRecords"]; n != 3 {
		t.Errorf("%d PutRecords requests, want 3 (all, the two failed throttled, the two failed again)", n)
	}

	// Every commit arrives, at least once, under its stream's key; the two
	// reported as failed arrive twice (their first put did happen).
	want := map[string][]eventstore.Event{}
	for _, c := range commits {
		want[c.Events[0].CommitID] = c.Events
	}
	got := awstest.ReadKinesis(t, kstream, len(commits)+len(failedAt))
	seen := map[string]int{}
	for _, r := range got {
		evs, err := envelope.Decode(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if key := aws.ToString(r.PartitionKey); key != evs[0].Stream.Key() {
			t.Errorf("commit of %s under partition key %q", evs[0].Stream, key)
		}
		w, ok := want[evs[0].CommitID]
		if !ok {
			t.Fatalf("unknown commit %s", evs[0].CommitID)
		}
		if !sameEvents(compact(t, w), evs) {
			t.Errorf("commit %s arrived as\n%+v\nwant\n%+v", evs[0].CommitID, evs, w)
		}
		seen[evs[0].CommitID]++
	}
	var twice []string
	for id := range want {
		switch seen[id] {
		case 0:
			t.Errorf("commit %s never arrived", id)
		case 2:
			twice = append(twice, id)
		}
	}
	slices.Sort(twice)
	var wantTwice []string
	for _, i := range failedAt {
		wantTwice = append(wantTwice, commitAtRecord(t, ev, i))
	}
	slices.Sort(wantTwice)
	if !slices.Equal(twice, wantTwice) {
		t.Errorf("commits sent twice %v, want the two reported failed %v", twice, wantTwice)
	}
}

// sameEvents compares what the store returned with what the envelope holds
// (times compared as instants).
func sameEvents(want, got []eventstore.Event) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		w, g := want[i], got[i]
		if !w.RecordedAt.Equal(g.RecordedAt) || !w.OccurredAt.Equal(g.OccurredAt) {
			return false
		}
		w.RecordedAt, w.OccurredAt, g.RecordedAt, g.OccurredAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		wd, gd := w.Data, g.Data
		w.Data, g.Data = nil, nil
		if fmt.Sprintf("%+v", w) != fmt.Sprintf("%+v", g) || string(wd) != string(gd) {
			return false
		}
	}
	return true
}

// commitAtRecord is the commit id of the ith commit record of the event
// (the order of the first PutRecords request).
func commitAtRecord(t testing.TB, ev events.DynamoDBEvent, i int) string {
	t.Helper()
	n := 0
	for _, r := range ev.Records {
		it, err := fanout.Item(r.Change.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := eventstore.DecodeCommit(it)
		if errors.Is(err, eventstore.ErrNotCommit) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == i {
			return evs[0].CommitID
		}
		n++
	}
	t.Fatalf("no commit record %d", i)
	return ""
}

// partialFailure is a PutRecords answer for n records in which the records
// at failed are throttled.
func partialFailure(n int, failed []int) string {
	type entry struct {
		SequenceNumber string `json:",omitempty"`
		ShardId        string `json:",omitempty"`
		ErrorCode      string `json:",omitempty"`
		ErrorMessage   string `json:",omitempty"`
	}
	out := struct {
		FailedRecordCount int
		Records           []entry
	}{FailedRecordCount: len(failed)}
	for i := range n {
		if slices.Contains(failed, i) {
			out.Records = append(out.Records, entry{ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded for shard"})
			continue
		}
		out.Records = append(out.Records, entry{SequenceNumber: fmt.Sprint("4900000000000000000", i), ShardId: "shardId-000000000000"})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// tableStreamEvent reads every record of the table's DynamoDB stream (moto
// keeps one shard per table) and shapes it as Lambda's event.
func tableStreamEvent(t testing.TB, db *dynamodb.Client, table string) events.DynamoDBEvent {
	t.Helper()
	ctx := t.Context()
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(d.Table.LatestStreamArn)
	streams := dynamodbstreams.NewFromConfig(awstest.Config(t, "DYNAMODB_STREAMS"))
	desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	for _, sh := range desc.StreamDescription.Shards {
		it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: streamstypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Records) == 0 {
				break
			}
			for _, r := range out.Records {
				er, err := fanout.EventRecord(r)
				if err != nil {
					t.Fatal(err)
				}
				er.EventSourceArn = arn
				ev.Records = append(ev.Records, er)
			}
			iter = out.NextShardIterator
		}
	}
	return ev
}
