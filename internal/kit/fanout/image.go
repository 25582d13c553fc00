package fanout

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
)

// Item converts a stream record's image (the Lambda event's attribute
// values) into the SDK's attribute values that eventstore decodes.
func Item(image map[string]events.DynamoDBAttributeValue) (eventstore.Item, error) {
	it := make(eventstore.Item, len(image))
	for name, av := range image {
		v, err := attributeValue(av)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		it[name] = v
	}
	return it, nil
}

func attributeValue(av events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch av.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: av.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: av.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: av.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: av.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeList:
		list := av.List()
		out := make([]types.AttributeValue, len(list))
		for i, e := range list {
			v, err := attributeValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = v
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := Item(av.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: av.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: av.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: av.BinarySet()}, nil
	}
	return nil, fmt.Errorf("unsupported attribute type %d", av.DataType())
}
