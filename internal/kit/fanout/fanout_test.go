package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
)

func TestOnlyCommitInsertsAreForwarded(t *testing.T) {
	store, items := newStore()
	ctx := context.Background()
	s := stream(t, "a1")
	c1, err := store.Append(ctx, eventstore.NewStream(s), []eventstore.NewEvent{event("AccountOpened", `{"owner":"bob"}`)}, eventstore.Metadata{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Guarded: a guard item too.
	if _, err := store.Append(ctx, c1.Head, []eventstore.NewEvent{event("Deposited", `{"amount":5}`)}, eventstore.Metadata{},
		&eventstore.Guard{Tenant: "acme", CommandID: "k1"}); err != nil {
		t.Fatal(err)
	}
	commits := items.commits()
	guard, snapshot := otherItems(t)
	if len(commits) != 2 || len(items.others()) != 1 {
		t.Fatalf("%d commits, %d other items; want 2 and a guard", len(commits), len(items.others()))
	}
	var ev events.DynamoDBEvent
	add := func(name events.DynamoDBOperationType, it eventstore.Item) {
		ev.Records = append(ev.Records, record(t, len(ev.Records), name, it))
	}
	add(events.DynamoDBOperationTypeInsert, commits[0])
	add(events.DynamoDBOperationTypeInsert, items.others()[0])
	add(events.DynamoDBOperationTypeInsert, guard)
	add(events.DynamoDBOperationTypeInsert, snapshot)
	add(events.DynamoDBOperationTypeModify, commits[0])
	add(events.DynamoDBOperationTypeRemove, commits[1])
	add(events.DynamoDBOperationTypeInsert, commits[1])

	k := &fakeKinesis{t: t}
	h, logs := newHandler(t, k)
	resp, err := h.Handle(deadline(t, 5*time.Second), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want no failures", resp, err)
	}
	if got, want := k.storedKeys(), []string{s.Key(), s.Key()}; !slices.Equal(got, want) {
		t.Errorf("sent partition keys %v, want %v", got, want)
	}
	for i, r := range k.stored {
		evs, err := envelope.Decode(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if evs[0].Version != int64(i+1) {
			t.Errorf("record %d holds version %d, want %d", i, evs[0].Version, i+1)
		}
	}
	sum := summary(t, logs)
	wantDropped := float64(len(ev.Records) - 2)
	if sum["records"] != float64(len(ev.Records)) || sum["dropped"] != wantDropped || sum["sent"] != 2.0 || sum["commits"] != 2.0 {
		t.Errorf("summary %v: want records %d, dropped %v, commits and sent 2", sum, len(ev.Records), wantDropped)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	store, items := newStore()
	meta := eventstore.Metadata{CommandID: "cmd-1", CorrelationID: "cor-1", CausationID: "cau-1", Actor: "alice"}
	if _, err := store.Append(context.Background(), eventstore.NewStream(stream(t, "a1")), []eventstore.NewEvent{
		event("AccountOpened", `{ "owner": "bob <b@example.com>", "currency": "EUR" }`),
		event("Deposited", `{"amount": 1000}`),
		event("Withdrawn", `[1, "two", null]`),
	}, meta, nil); err != nil {
		t.Fatal(err)
	}
	it := items.commits()[0]
	want, err := eventstore.DecodeCommit(it)
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKinesis{t: t}
	h, _ := newHandler(t, k)
	if _, err := h.Handle(deadline(t, 5*time.Second), inserts(t, []eventstore.Item{it})); err != nil {
		t.Fatal(err)
	}
	if len(k.stored) != 1 {
		t.Fatalf("%d records sent, want 1", len(k.stored))
	}
	got, err := envelope.Decode(k.stored[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, compact(t, want)) {
		t.Errorf("decoded envelope\n%+v\nwant\n%+v", got, compact(t, want))
	}

	// The wire format itself, as documented in docs/events.md.
	var raw []map[string]any
	if err := json.Unmarshal(k.stored[0].Data, &raw); err != nil {
		t.Fatal(err)
	}
	first := raw[0]
	for name, v := range map[string]any{
		"specversion": "1.0", "id": want[0].ID, "source": "annals/acme/account", "type": "AccountOpened",
		"subject": "a1", "time": want[0].RecordedAt.UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json",
		"streamversion": 1.0, "schemaversion": 1.0, "occurredat": "2026-02-28T23:59:59.000000005Z",
		"commitid": want[0].CommitID, "commandid": "cmd-1", "correlationid": "cor-1", "causationid": "cau-1",
		"actor": "alice", "tenant": "acme",
		"data": map[string]any{"owner": "bob <b@example.com>", "currency": "EUR"},
	} {
		if !reflect.DeepEqual(first[name], v) {
			t.Errorf("%s = %#v, want %#v", name, first[name], v)
		}
	}
	if len(first) != 17 {
		t.Errorf("event has %d attributes, want 17: %v", len(first), first)
	}
	if !strings.Contains(string(k.stored[0].Data), `"bob <b@example.com>"`) {
		t.Errorf("event data was escaped: %s", k.stored[0].Data)
	}
	if aws.ToString(k.stored[0].PartitionKey) != "acme#account#a1" {
		t.Errorf("partition key %q, want acme#account#a1", aws.ToString(k.stored[0].PartitionKey))
	}
}

func TestRequestsStayWithinCountLimit(t *testing.T) {
	store, items := newStore()
	appendCommits(t, store, 1200)
	k := &fakeKinesis{t: t}
	h, _ := newHandler(t, k)
	resp, err := h.Handle(deadline(t, 10*time.Second), inserts(t, items.commits()))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	var sizes []int
	for _, c := range k.calls {
		sizes = append(sizes, len(c))
	}
	if !slices.Equal(sizes, []int{500, 500, 200}) {
		t.Errorf("request sizes %v, want [500 500 200]", sizes)
	}
	if len(k.stored) != 1200 {
		t.Errorf("%d records stored, want 1200", len(k.stored))
	}
}

func TestRequestsStayWithinByteLimit(t *testing.T) {
	store, items := newStore()
	pad := strings.Repeat("x", 390_000)
	for i := range 30 {
		if _, err := store.Append(context.Background(), eventstore.NewStream(stream(t, fmt.Sprint("big", i))),
			[]eventstore.NewEvent{event("Big", `{"pad":"`+pad+`"}`)}, eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	k := &fakeKinesis{t: t}
	h, _ := newHandler(t, k)
	if _, err := h.Handle(deadline(t, 10*time.Second), inserts(t, items.commits())); err != nil {
		t.Fatal(err)
	}
	// 30 records of ~390 KB: 13 fit under 5 MiB.
	var sizes []int
	for _, c := range k.calls {
		sizes = append(sizes, len(c))
	}
	if !slices.Equal(sizes, []int{13, 13, 4}) {
		t.Errorf("request sizes %v, want [13 13 4]", sizes)
	}
}

func TestPartialFailuresAreRetriedUntilSent(t *testing.T) {
	store, items := newStore()
	appendCommits(t, store, 10)
	k := &fakeKinesis{t: t, answer: func(n int, entries []types.PutRecordsRequestEntry) ([]bool, error) {
		failed := make([]bool, len(entries))
		switch n {
		case 1: // every odd record
			for i := range failed {
				failed[i] = i%2 == 1
			}
		case 2: // then the first of those again
			failed[0] = true
		}
		return failed, nil
	}}
	h, logs := newHandler(t, k)
	resp, err := h.Handle(deadline(t, 5*time.Second), inserts(t, items.commits()))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want everything sent", resp, err)
	}
	keys := func(entries []types.PutRecordsRequestEntry) []string {
		var out []string
		for _, e := range entries {
			out = append(out, strings.TrimPrefix(aws.ToString(e.PartitionKey), "acme#account#"))
		}
		return out
	}
	want := [][]string{
		{"a0000", "a0001", "a0002", "a0003", "a0004", "a0005", "a0006", "a0007", "a0008", "a0009"},
		{"a0001", "a0003", "a0005", "a0007", "a0009"},
		{"a0001"},
	}
	var got [][]string
	for _, c := range k.calls {
		got = append(got, keys(c))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests\n%v\nwant\n%v", got, want)
	}
	stored := k.storedKeys()
	slices.Sort(stored)
	if len(stored) != 10 || len(slices.Compact(stored)) != 10 {
		t.Errorf("stored %v, want each of the 10 commits once", stored)
	}
	if sum := summary(t, logs); sum["retries"] != 2.0 || sum["sent"] != 10.0 {
		t.Errorf("summary %v, want 2 retries and 10 sent", sum)
	}
}

func TestFailedPartitionKeyHoldsItsLaterCommitsForTheNextRound(t *testing.T) {
	store, items := newStore()
	ctx := context.Background()
	s := stream(t, "busy")
	c, err := store.Append(ctx, eventstore.NewStream(s), []eventstore.NewEvent{event("A", `{}`)}, eventstore.Metadata{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendCommits(t, store, 600) // pushes the next commit of s into a second request
	if _, err := store.Append(ctx, c.Head, []eventstore.NewEvent{event("B", `{}`)}, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	k := &fakeKinesis{t: t, answer: func(n int, entries []types.PutRecordsRequestEntry) ([]bool, error) {
		failed := make([]bool, len(entries))
		failed[0] = n == 1 // version 1 of s fails once
		return failed, nil
	}}
	h, _ := newHandler(t, k)
	if _, err := h.Handle(deadline(t, 5*time.Second), inserts(t, items.commits())); err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, r := range k.stored {
		if aws.ToString(r.PartitionKey) == s.Key() {
			evs, err := envelope.Decode(r.Data)
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, evs[0].Version)
		}
	}
	if !slices.Equal(versions, []int64{1, 2}) {
		t.Errorf("versions of %s arrived in order %v, want [1 2]", s, versions)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	store, items := newStore()
	appendCommits(t, store, 3)
	k := &fakeKinesis{t: t, answer: func(n int, entries []types.PutRecordsRequestEntry) ([]bool, error) {
		if n <= 3 {
			return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
		}
		return nil, nil
	}}
	h, logs := newHandler(t, k)
	resp, err := h.Handle(deadline(t, 5*time.Second), inserts(t, items.commits()))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want everything sent", resp, err)
	}
	if len(k.calls) != 4 || len(k.stored) != 3 {
		t.Errorf("%d calls, %d stored; want 4 and 3", len(k.calls), len(k.stored))
	}
	if sum := summary(t, logs); sum["retries"] != 3.0 {
		t.Errorf("summary %v, want 3 retries", sum)
	}
}

func TestDeadlineReportsTheFirstUnsentRecord(t *testing.T) {
	store, items := newStore()
	appendCommits(t, store, 5)
	// Records in batch order: a guard first, then the five commits.
	all := items.commits()
	third, err := eventstore.DecodeCommit(all[2])
	if err != nil {
		t.Fatal(err)
	}
	stuck := third[0].Stream.Key()
	guard, _ := otherItems(t)
	ev := inserts(t, append([]eventstore.Item{guard}, all...))

	k := &fakeKinesis{t: t, answer: func(n int, entries []types.PutRecordsRequestEntry) ([]bool, error) {
		failed := make([]bool, len(entries))
		for i, e := range entries {
			failed[i] = aws.ToString(e.PartitionKey) == stuck
		}
		return failed, nil
	}}
	h, logs := newHandler(t, k)
	ctx := deadline(t, 400*time.Millisecond)
	resp, err := h.Handle(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	// Every call must end its margin (50 ms) before the invocation's
	// deadline, so that the answer goes out in time: checked on the calls'
	// own deadlines, not on a clock a busy machine would skew.
	end, _ := ctx.Deadline()
	for i, d := range k.deadlines {
		if d.IsZero() || d.After(end.Add(-50*time.Millisecond)) {
			t.Errorf("call %d may run until %v, past the deadline less the margin (%v)", i+1, d, end.Add(-50*time.Millisecond))
		}
	}
	want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[3].Change.SequenceNumber}}
	if !reflect.DeepEqual(resp.BatchItemFailures, want) {
		t.Errorf("failures %+v, want %+v (the third commit)", resp.BatchItemFailures, want)
	}
	if len(k.calls) < 3 {
		t.Errorf("only %d calls: it gave up before the deadline", len(k.calls))
	}
	if len(k.stored) != 4 {
		t.Errorf("%d stored, want the 4 other commits", len(k.stored))
	}
	if sum := summary(t, logs); sum["unsent"] != 1.0 || sum["level"] != "WARN" {
		t.Errorf("summary %v, want 1 unsent at WARN", sum)
	}
}

func TestDeadlineWithKinesisDownReportsTheFirstCommit(t *testing.T) {
	store, items := newStore()
	appendCommits(t, store, 3)
	_, snap := otherItems(t)
	ev := inserts(t, append([]eventstore.Item{snap}, items.commits()...))
	k := &fakeKinesis{t: t, answer: func(int, []types.PutRecordsRequestEntry) ([]bool, error) {
		return nil, errors.New("connection refused")
	}}
	h, _ := newHandler(t, k)
	resp, err := h.Handle(deadline(t, 200*time.Millisecond), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[1].Change.SequenceNumber}}
	if !reflect.DeepEqual(resp.BatchItemFailures, want) {
		t.Errorf("failures %+v, want %+v", resp.BatchItemFailures, want)
	}
}

func TestResponseListsNoFailuresAsEmptyArray(t *testing.T) {
	h, _ := newHandler(t, &fakeKinesis{t: t})
	resp, err := h.Handle(deadline(t, time.Second), events.DynamoDBEvent{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(resp)
	if string(b) != `{"batchItemFailures":[]}` {
		t.Errorf("response %s, want an empty list", b)
	}
}
