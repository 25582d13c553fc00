package fanout_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"annals/internal/kit/envelope"
	"annals/internal/kit/fanout"
	"annals/internal/localaws/lambdatest"
)

const goldenKey = "demo#account#0195a1b2-0000-7000-8000-000000000001"

func goldenEvent(t testing.TB) (events.DynamoDBEvent, []byte) {
	t.Helper()
	return lambdatest.Payload[events.DynamoDBEvent](t, "fanout", "commit-insert.json")
}

// checkGoldenEnvelope checks what events/fanout/commit-insert.json must put
// on the events stream.
func checkGoldenEnvelope(t testing.TB, key string, data []byte) {
	t.Helper()
	if key != goldenKey {
		t.Errorf("partition key %q, want %q", key, goldenKey)
	}
	evs, err := envelope.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	e := evs[1]
	if e.Type != "MoneyDeposited" || e.Version != 2 || e.Stream.Key() != goldenKey || e.Actor != "alice" ||
		e.ID != "0195a1b2-0000-7000-8000-0000000000e2" || e.CommitID != "0195a1b2-0000-7000-8000-0000000000c1" ||
		!e.RecordedAt.Equal(time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)) ||
		string(e.Data) != `{"amount":1000,"reference":"opening deposit","balanceAfter":1000}` {
		t.Errorf("second event %+v", e)
	}
}

func TestGoldenPayload(t *testing.T) {
	ev, _ := goldenEvent(t)
	k := &fakeKinesis{t: t}
	h, logs := newHandler(t, k)
	resp, err := h.Handle(deadline(t, 5*time.Second), ev)
	if err != nil || resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want an empty list of failures", resp, err)
	}
	if len(k.stored) != 1 {
		t.Fatalf("%d records sent, want the commit only", len(k.stored))
	}
	checkGoldenEnvelope(t, aws.ToString(k.stored[0].PartitionKey), k.stored[0].Data)
	if sum := summary(t, logs); sum["dropped"] != 1.0 {
		t.Errorf("summary %v, want the snapshot dropped", sum)
	}
}

func TestItemConvertsEveryAttributeType(t *testing.T) {
	var img map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal([]byte(`{
		"s": {"S": "x"}, "n": {"N": "1.5"}, "b": {"B": "AAE="}, "t": {"BOOL": true}, "z": {"NULL": true},
		"ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AA==", "AQ=="]},
		"l": {"L": [{"S": "y"}, {"M": {"k": {"N": "2"}}}]},
		"m": {"M": {"inner": {"L": [{"BOOL": false}]}}}
	}`), &img); err != nil {
		t.Fatal(err)
	}
	got, err := fanout.Item(img)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ddbtypes.AttributeValue{
		"s":  &ddbtypes.AttributeValueMemberS{Value: "x"},
		"n":  &ddbtypes.AttributeValueMemberN{Value: "1.5"},
		"b":  &ddbtypes.AttributeValueMemberB{Value: []byte{0, 1}},
		"t":  &ddbtypes.AttributeValueMemberBOOL{Value: true},
		"z":  &ddbtypes.AttributeValueMemberNULL{Value: true},
		"ss": &ddbtypes.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns": &ddbtypes.AttributeValueMemberNS{Value: []string{"1", "2"}},
		"bs": &ddbtypes.AttributeValueMemberBS{Value: [][]byte{{0}, {1}}},
		"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
			&ddbtypes.AttributeValueMemberS{Value: "y"},
			&ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberN{Value: "2"}}},
		}},
		"m": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
			"inner": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberBOOL{Value: false}}},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Item =\n%#v\nwant\n%#v", got, want)
	}
}

func TestEventRecordFromStreamsAPI(t *testing.T) {
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	r := streamstypes.Record{
		EventID: aws.String("e1"), EventName: streamstypes.OperationTypeInsert, EventSource: aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"), AwsRegion: aws.String("us-east-1"),
		Dynamodb: &streamstypes.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        map[string]streamstypes.AttributeValue{"id": &streamstypes.AttributeValueMemberS{Value: "p"}},
			NewImage: map[string]streamstypes.AttributeValue{
				"id": &streamstypes.AttributeValueMemberS{Value: "p"},
				"l":  &streamstypes.AttributeValueMemberL{Value: []streamstypes.AttributeValue{&streamstypes.AttributeValueMemberN{Value: "1"}, &streamstypes.AttributeValueMemberNULL{Value: true}}},
				"m":  &streamstypes.AttributeValueMemberM{Value: map[string]streamstypes.AttributeValue{"b": &streamstypes.AttributeValueMemberB{Value: []byte("x")}, "t": &streamstypes.AttributeValueMemberBOOL{Value: true}}},
				"ss": &streamstypes.AttributeValueMemberSS{Value: []string{"a"}},
				"ns": &streamstypes.AttributeValueMemberNS{Value: []string{"1"}},
				"bs": &streamstypes.AttributeValueMemberBS{Value: [][]byte{[]byte("y")}},
			},
			SequenceNumber: aws.String("42"), SizeBytes: aws.Int64(10), StreamViewType: streamstypes.StreamViewTypeNewImage,
		},
	}
	got, err := fanout.EventRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	// Through JSON, as Lambda would deliver it.
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back events.DynamoDBEventRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.EventName != "INSERT" || back.Change.SequenceNumber != "42" || !back.Change.ApproximateCreationDateTime.Equal(created) {
		t.Errorf("record %+v", back)
	}
	it, err := fanout.Item(back.Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ddbtypes.AttributeValue{
		"id": &ddbtypes.AttributeValueMemberS{Value: "p"},
		"l":  &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberN{Value: "1"}, &ddbtypes.AttributeValueMemberNULL{Value: true}}},
		"m":  &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"b": &ddbtypes.AttributeValueMemberB{Value: []byte("x")}, "t": &ddbtypes.AttributeValueMemberBOOL{Value: true}}},
		"ss": &ddbtypes.AttributeValueMemberSS{Value: []string{"a"}},
		"ns": &ddbtypes.AttributeValueMemberNS{Value: []string{"1"}},
		"bs": &ddbtypes.AttributeValueMemberBS{Value: [][]byte{[]byte("y")}},
	}
	if !reflect.DeepEqual(it, want) {
		t.Errorf("image =\n%#v\nwant\n%#v", it, want)
	}
}
