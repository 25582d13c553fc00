// Package fanouttest makes the records the events table's DynamoDB stream
// hands the fan-out, from items as the event store writes them, for the
// tests of the fan-out and of the repairs that follow it, and for the
// benchmarks that run it.
package fanouttest

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
)

// Record is the stream record of an item's change, as Lambda delivers it
// (NEW_IMAGE), numbered i in its stream.
func Record(tb testing.TB, i int, name events.DynamoDBOperationType, it eventstore.Item) events.DynamoDBEventRecord {
	tb.Helper()
	return events.DynamoDBEventRecord{
		EventID:     fmt.Sprintf("ev-%d", i),
		EventName:   string(name),
		EventSource: "aws:dynamodb",
		Change: events.DynamoDBStreamRecord{
			Keys:           image(tb, eventstore.KeyOf(it)),
			NewImage:       image(tb, it),
			SequenceNumber: seq(i),
			StreamViewType: "NEW_IMAGE",
		},
	}
}

// Inserts is a stream event with one INSERT per item, numbered from 0.
func Inserts(tb testing.TB, items []eventstore.Item) events.DynamoDBEvent {
	tb.Helper()
	var ev events.DynamoDBEvent
	for i, it := range items {
		ev.Records = append(ev.Records, Record(tb, i, events.DynamoDBOperationTypeInsert, it))
	}
	return ev
}

// seq numbers records like DynamoDB Streams: increasing decimal strings.
func seq(i int) string { return strconv.Itoa(100000000000000000 + i) }

// image converts an item to a stream record's image.
func image(tb testing.TB, it eventstore.Item) map[string]events.DynamoDBAttributeValue {
	tb.Helper()
	out := make(map[string]events.DynamoDBAttributeValue, len(it))
	for k, v := range it {
		out[k] = attr(tb, v)
	}
	return out
}

func attr(tb testing.TB, v ddbtypes.AttributeValue) events.DynamoDBAttributeValue {
	tb.Helper()
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *ddbtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *ddbtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *ddbtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *ddbtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *ddbtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *ddbtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *ddbtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *ddbtypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = attr(tb, e)
		}
		return events.NewListAttribute(l)
	case *ddbtypes.AttributeValueMemberM:
		return events.NewMapAttribute(image(tb, v.Value))
	}
	tb.Fatalf("unsupported attribute %T", v)
	return events.DynamoDBAttributeValue{}
}

// Scanner is the part of a DynamoDB client StoredCommit reads with.
type Scanner interface {
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// StoredCommit reads from the events table the item of the stream's commit
// at version v, as the table's stream record would carry it: for a test
// that breaks it, or hands it to the fan-out.
func StoredCommit(tb testing.TB, db Scanner, table string, s eventstore.StreamID, v int64) eventstore.Item {
	tb.Helper()
	out, err := db.Scan(tb.Context(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		tb.Fatal(err)
	}
	for _, it := range out.Items {
		if evs, err := eventstore.DecodeCommit(it); err == nil && evs[0].Stream == s && evs[0].Version == v {
			return it
		}
	}
	tb.Fatalf("no commit of %s at %d in %s", s, v, table)
	return nil
}
