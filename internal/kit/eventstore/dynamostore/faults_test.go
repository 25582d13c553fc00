package dynamostore_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/localaws/awstest"
)

// These tests put faults on the wire between the SDK and moto: the SDK's own
// retries, the store's resends and DynamoDB's ALL_OLD answers have to work
// together for a command to land exactly once.

func faultyStore(t *testing.T, w *awstest.Wire, attempts int) (*eventstore.Store, eventstore.StreamID) {
	t.Helper()
	db := awstest.DynamoDBOver(t, w, attempts)
	table := awstest.Table(t, awstest.DynamoDB(t), "EventsTable")
	stream, err := eventstore.NewStreamID("t1", "test", t.Name()[len(t.Name())-8:])
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.New(dynamostore.New(db, table)), stream
}

var one = []eventstore.NewEvent{{Type: "Added", SchemaVersion: 1, Data: json.RawMessage(`{"n":1}`)}}

func assertVersions(t *testing.T, s *eventstore.Store, stream eventstore.StreamID, want int) {
	t.Helper()
	p, err := s.Read(t.Context(), stream, 1, 100)
	if want == 0 {
		if !errors.Is(err, eventstore.ErrNotFound) {
			t.Fatalf("stream exists (%d events, %v), want nothing written", len(p.Events), err)
		}
		return
	}
	if err != nil || len(p.Events) != want {
		t.Fatalf("stream has %d events (%v), want %d", len(p.Events), err, want)
	}
}

func TestLostPutItemAnswerIsResentAndRecognised(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "PutItem" && n == 1 {
			return awstest.ServerError(true)
		}
		return nil
	}
	store, stream := faultyStore(t, w, 3)
	c, err := store.Append(t.Context(), eventstore.NewStream(stream), one, eventstore.Metadata{}, nil)
	if err != nil {
		t.Fatalf("append whose answer was lost: %v", err)
	}
	if got := w.Counts()["PutItem"]; got != 2 {
		t.Errorf("%d PutItem requests, want 2 (the lost one and its identical resend)", got)
	}
	if c.Head.Version() != 1 {
		t.Errorf("head %d, want 1", c.Head.Version())
	}
	assertVersions(t, store, stream, 1)
}

func TestLostTransactionAnswerIsResentAndRecognised(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "TransactWriteItems" && n == 1 {
			return awstest.ServerError(true)
		}
		return nil
	}
	store, stream := faultyStore(t, w, 3)
	guard := &eventstore.Guard{Tenant: stream.Tenant, CommandID: "cmd-1", Outcome: []byte("ok")}
	if _, err := store.Append(t.Context(), eventstore.NewStream(stream), one, eventstore.Metadata{}, guard); err != nil {
		t.Fatalf("guarded append whose answer was lost: %v", err)
	}
	if got := w.Counts()["TransactWriteItems"]; got != 2 {
		t.Errorf("%d TransactWriteItems requests, want 2", got)
	}
	assertVersions(t, store, stream, 1)
	if err := store.CheckGuard(t.Context(), stream.Tenant, "cmd-1"); !errors.Is(err, eventstore.ErrAlreadyApplied) {
		t.Errorf("guard after the resend: %v, want it recorded", err)
	}
}

func TestThrottlingBeyondSDKRetriesIsResent(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "PutItem" && n <= 4 {
			return awstest.Throttled("ThrottlingException")
		}
		return nil
	}
	store, stream := faultyStore(t, w, 2)
	if _, err := store.Append(t.Context(), eventstore.NewStream(stream), one, eventstore.Metadata{}, nil); err != nil {
		t.Fatalf("append under throttling: %v", err)
	}
	if got := w.Counts()["PutItem"]; got != 5 {
		t.Errorf("%d PutItem requests, want 5 (4 throttled, then through)", got)
	}
	assertVersions(t, store, stream, 1)
}

func TestUnknownOutcomeUntilTheDeadlineIsReportedAsSuch(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "PutItem" {
			return awstest.ServerError(false)
		}
		return nil
	}
	store, stream := faultyStore(t, w, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := store.Append(ctx, eventstore.NewStream(stream), one, eventstore.Metadata{}, nil)
	if !errors.Is(err, eventstore.ErrUnknownOutcome) {
		t.Fatalf("append that never got an answer: %v, want ErrUnknownOutcome", err)
	}
	if w.Counts()["PutItem"] < 3 {
		t.Errorf("only %d PutItem requests: the store gave up without resending", w.Counts()["PutItem"])
	}
	assertVersions(t, store, stream, 0)
}

// contended is DynamoDB's answer to a transaction that met another one in
// progress on the item at index busy.
func contended(writes, busy int) *awstest.Fault {
	reasons := make([]string, writes)
	for i := range reasons {
		reasons[i] = `{"Code":"None"}`
		if i == busy {
			reasons[i] = `{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}`
		}
	}
	return &awstest.Fault{Status: http.StatusBadRequest, Code: "TransactionCanceledException",
		Body: `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled","CancellationReasons":[` + strings.Join(reasons, ",") + `]}`}
}

func TestAGuardInAnotherTransactionsHandsIsInFlight(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "TransactWriteItems" && n == 1 {
			return contended(2, 1)
		}
		return nil
	}
	store, stream := faultyStore(t, w, 3)
	guard := &eventstore.Guard{Tenant: stream.Tenant, CommandID: "key-1"}
	_, err := store.Append(t.Context(), eventstore.NewStream(stream), one, eventstore.Metadata{}, guard)
	if !errors.Is(err, eventstore.ErrInFlight) {
		t.Fatalf("append whose guard another transaction is writing: %v, want ErrInFlight", err)
	}
	if got := w.Counts()["TransactWriteItems"]; got != 1 {
		t.Errorf("%d TransactWriteItems requests, want 1: the other request will record the outcome", got)
	}
	assertVersions(t, store, stream, 0)
}

func TestACommitInAnotherTransactionsHandsIsResent(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "TransactWriteItems" && n == 1 {
			return contended(2, 0)
		}
		return nil
	}
	store, stream := faultyStore(t, w, 3)
	guard := &eventstore.Guard{Tenant: stream.Tenant, CommandID: "key-1"}
	if _, err := store.Append(t.Context(), eventstore.NewStream(stream), one, eventstore.Metadata{}, guard); err != nil {
		t.Fatalf("append whose commit met another transaction: %v, want it resent and written", err)
	}
	if got := w.Counts()["TransactWriteItems"]; got != 2 {
		t.Errorf("%d TransactWriteItems requests, want 2", got)
	}
	assertVersions(t, store, stream, 1)
}

// placeholders are items of the events table's shape for a batch.
func placeholders(n int) []eventstore.Item {
	var out []eventstore.Item
	for i := range n {
		out = append(out, eventstore.Item{
			"pk":   &types.AttributeValueMemberS{Value: "t1#test#batch"},
			"sk":   &types.AttributeValueMemberN{Value: strconv.Itoa(i + 1)},
			"kind": &types.AttributeValueMemberS{Value: "archived"},
		})
	}
	return out
}

// unprocessed is DynamoDB's answer to a BatchWriteItem that wrote none of
// its puts: every one of them is handed back, to send again.
func unprocessed(t *testing.T, table string, puts []eventstore.Item) *awstest.Fault {
	t.Helper()
	reqs := make([]types.WriteRequest, len(puts))
	for i, it := range puts {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
	}
	var j []map[string]any
	for _, r := range reqs {
		item := map[string]any{}
		for k, v := range r.PutRequest.Item {
			switch v := v.(type) {
			case *types.AttributeValueMemberS:
				item[k] = map[string]string{"S": v.Value}
			case *types.AttributeValueMemberN:
				item[k] = map[string]string{"N": v.Value}
			}
		}
		j = append(j, map[string]any{"PutRequest": map[string]any{"Item": item}})
	}
	body, err := json.Marshal(map[string]any{"UnprocessedItems": map[string]any{table: j}})
	if err != nil {
		t.Fatal(err)
	}
	return &awstest.Fault{Status: http.StatusOK, Body: string(body)}
}

func batchBackend(t *testing.T, w *awstest.Wire) (*dynamostore.Backend, string) {
	t.Helper()
	table := awstest.Table(t, awstest.DynamoDB(t), "EventsTable")
	return dynamostore.New(awstest.DynamoDBOver(t, w, 3), table), table
}

func countItems(t *testing.T, b *dynamostore.Backend) int {
	t.Helper()
	p, err := b.Query(t.Context(), eventstore.Query{PK: "t1#test#batch", Consistent: true})
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Items)
}

// What DynamoDB leaves unprocessed is sent again after a backoff until
// it is written.
func TestUnprocessedBatchWritesAreSentAgain(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	b, table := batchBackend(t, w)
	puts := placeholders(5)
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "BatchWriteItem" && n <= 2 {
			return unprocessed(t, table, puts)
		}
		return nil
	}
	start := time.Now()
	if err := b.WriteBatch(t.Context(), puts, nil); err != nil {
		t.Fatalf("a batch left unprocessed twice: %v", err)
	}
	if got := w.Counts()["BatchWriteItem"]; got != 3 {
		t.Errorf("%d BatchWriteItem requests, want 3 (twice unprocessed, then written)", got)
	}
	if n := countItems(t, b); n != 5 {
		t.Errorf("%d items written, want 5", n)
	}
	// Two backoffs of at least half of 25 and 50 ms.
	if d := time.Since(start); d < 37*time.Millisecond {
		t.Errorf("sent again after %v: no backoff", d)
	}
}

// A batch that stays unprocessed is given up after a bounded number of
// requests, as throttled.
func TestABatchThatStaysUnprocessedIsThrottled(t *testing.T) {
	t.Parallel()
	w := awstest.NewWire()
	b, table := batchBackend(t, w)
	puts := placeholders(3)
	w.Inject = func(op string, n int) *awstest.Fault {
		if op == "BatchWriteItem" {
			return unprocessed(t, table, puts)
		}
		return nil
	}
	start := time.Now()
	err := b.WriteBatch(t.Context(), puts, nil)
	if !errors.Is(err, eventstore.ErrThrottled) {
		t.Fatalf("a batch never processed: %v, want ErrThrottled", err)
	}
	if got := w.Counts()["BatchWriteItem"]; got != 8 {
		t.Errorf("%d BatchWriteItem requests, want 8", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v, want within a few seconds", d)
	}
	if n := countItems(t, b); n != 0 {
		t.Errorf("%d items written by requests the server never saw", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if err := b.WriteBatch(ctx, puts, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a batch unprocessed until its deadline: %v, want the deadline", err)
	}
}
