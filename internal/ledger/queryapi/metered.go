package queryapi

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/awserr"
	"annals/internal/kit/eventstore"
)

// DynamoDBReader is the part of the DynamoDB client the query tables are
// read with.
type DynamoDBReader interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// ReadOnlyDynamoDB is the client the query function hands the view stores:
// it reports every read to the request's eventstore.Meter (requests and
// capacity by DynamoDB's rules, as the event store's backends do), turns
// AWS errors through awserr so that throttling and outages answer 503,
// and refuses writes, which the function has no permission for anyway.
type ReadOnlyDynamoDB struct{ DB DynamoDBReader }

// ErrReadOnly is returned by the write methods of ReadOnlyDynamoDB.
var ErrReadOnly = errors.New("the query function does not write to the query tables")

func (r ReadOnlyDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	consistent := in.ConsistentRead != nil && *in.ConsistentRead
	out, err := r.DB.GetItem(ctx, in, opts...)
	if err != nil {
		eventstore.RecordRead(ctx, "GetItem", nil, consistent)
		return nil, awserr.Read("read a query table", err)
	}
	eventstore.RecordRead(ctx, "GetItem", []eventstore.Item{out.Item}, consistent)
	return out, nil
}

func (r ReadOnlyDynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	consistent := in.ConsistentRead != nil && *in.ConsistentRead
	out, err := r.DB.Query(ctx, in, opts...)
	if err != nil {
		eventstore.RecordRead(ctx, "Query", nil, consistent)
		return nil, awserr.Read("read a query table", err)
	}
	eventstore.RecordRead(ctx, "Query", out.Items, consistent)
	return out, nil
}

func (r ReadOnlyDynamoDB) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, ErrReadOnly
}

func (r ReadOnlyDynamoDB) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return nil, ErrReadOnly
}
