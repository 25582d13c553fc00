package fanout

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// EventRecord converts a record read with the DynamoDB Streams API
// (GetRecords) into the record Lambda's event source mapping delivers, so a
// stream can be replayed through Handle without the mapping (the local stack
// and its tests do this).
func EventRecord(r streamstypes.Record) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		EventID:      aws.ToString(r.EventID),
		EventName:    string(r.EventName),
		EventSource:  aws.ToString(r.EventSource),
		EventVersion: aws.ToString(r.EventVersion),
		AWSRegion:    aws.ToString(r.AwsRegion),
	}
	d := r.Dynamodb
	if d == nil {
		return out, fmt.Errorf("record %s has no change", out.EventID)
	}
	var err error
	if out.Change.Keys, err = image(d.Keys); err != nil {
		return out, fmt.Errorf("record %s keys: %w", out.EventID, err)
	}
	if out.Change.NewImage, err = image(d.NewImage); err != nil {
		return out, fmt.Errorf("record %s new image: %w", out.EventID, err)
	}
	if out.Change.OldImage, err = image(d.OldImage); err != nil {
		return out, fmt.Errorf("record %s old image: %w", out.EventID, err)
	}
	out.Change.SequenceNumber = aws.ToString(d.SequenceNumber)
	out.Change.SizeBytes = aws.ToInt64(d.SizeBytes)
	out.Change.StreamViewType = string(d.StreamViewType)
	if d.ApproximateCreationDateTime != nil {
		out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	return out, nil
}

func image(m map[string]streamstypes.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		av, err := streamValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func streamValue(v streamstypes.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *streamstypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *streamstypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *streamstypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value), nil
	case *streamstypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *streamstypes.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *streamstypes.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			av, err := streamValue(e)
			if err != nil {
				return av, fmt.Errorf("[%d]: %w", i, err)
			}
			list[i] = av
		}
		return events.NewListAttribute(list), nil
	case *streamstypes.AttributeValueMemberM:
		m, err := image(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	case *streamstypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value), nil
	case *streamstypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value), nil
	case *streamstypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value %T", v)
}
