// Package fanouttest shapes items of the events table as the DynamoDB
// stream records Lambda hands the fan-out, for the tests of the fan-out
// and of the repairs that follow it.
package fanouttest

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
)

// Image converts an item to a stream record's image, as Lambda delivers it.
func Image(t testing.TB, it eventstore.Item) map[string]events.DynamoDBAttributeValue {
	t.Helper()
	out := make(map[string]events.DynamoDBAttributeValue, len(it))
	for k, v := range it {
		out[k] = attr(t, v)
	}
	return out
}

func attr(t testing.TB, v ddbtypes.AttributeValue) events.DynamoDBAttributeValue {
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
			l[i] = attr(t, e)
		}
		return events.NewListAttribute(l)
	case *ddbtypes.AttributeValueMemberM:
		return events.NewMapAttribute(Image(t, v.Value))
	}
	t.Fatalf("unsupported attribute %T", v)
	return events.DynamoDBAttributeValue{}
}

// Seq numbers records like DynamoDB Streams: increasing decimal strings.
func Seq(i int) string { return strconv.Itoa(100000000000000000 + i) }

// Record is the i-th record of a batch: the change name does to the item.
func Record(t testing.TB, i int, name events.DynamoDBOperationType, it eventstore.Item) events.DynamoDBEventRecord {
	t.Helper()
	return events.DynamoDBEventRecord{
		EventID:     fmt.Sprintf("ev-%d", i),
		EventName:   string(name),
		EventSource: "aws:dynamodb",
		Change: events.DynamoDBStreamRecord{
			Keys:           Image(t, eventstore.KeyOf(it)),
			NewImage:       Image(t, it),
			SequenceNumber: Seq(i),
			StreamViewType: "NEW_IMAGE",
		},
	}
}

// Inserts is a stream event with one INSERT per item, in order.
func Inserts(t testing.TB, items ...eventstore.Item) events.DynamoDBEvent {
	t.Helper()
	var ev events.DynamoDBEvent
	for i, it := range items {
		ev.Records = append(ev.Records, Record(t, i, events.DynamoDBOperationTypeInsert, it))
	}
	return ev
}
