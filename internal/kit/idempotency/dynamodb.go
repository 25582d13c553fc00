package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/awserr"
	"annals/internal/kit/eventstore"
)

// DynamoDBAPI is the part of the DynamoDB client the store uses.
type DynamoDBAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// DynamoDB keeps records in the idempotency table (partition key pk, TTL on
// expiresAt in epoch seconds).
type DynamoDB struct {
	db    DynamoDBAPI
	table string
}

// NewDynamoDB returns a store over the table.
func NewDynamoDB(db DynamoDBAPI, table string) *DynamoDB { return &DynamoDB{db: db, table: table} }

func (d *DynamoDB) item(r Record) (map[string]types.AttributeValue, error) {
	it := map[string]types.AttributeValue{
		"pk":        &types.AttributeValueMemberS{Value: r.Key},
		"fp":        &types.AttributeValueMemberS{Value: r.Fingerprint},
		"st":        &types.AttributeValueMemberS{Value: r.State},
		"owner":     &types.AttributeValueMemberS{Value: r.Owner},
		"lease":     &types.AttributeValueMemberN{Value: strconv.FormatInt(r.LeaseUntil.UnixMilli(), 10)},
		"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(r.ExpiresAt.Unix(), 10)},
	}
	if r.Response != nil {
		b, err := json.Marshal(r.Response)
		if err != nil {
			return nil, err
		}
		it["resp"] = &types.AttributeValueMemberS{Value: string(b)}
	}
	return it, nil
}

func decode(it map[string]types.AttributeValue) (*Record, error) {
	s := func(name string) string {
		v, _ := it[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	n := func(name string) int64 {
		v, _ := it[name].(*types.AttributeValueMemberN)
		if v == nil {
			return 0
		}
		x, _ := strconv.ParseInt(v.Value, 10, 64)
		return x
	}
	r := &Record{
		Key: s("pk"), Fingerprint: s("fp"), State: s("st"), Owner: s("owner"),
		LeaseUntil: time.UnixMilli(n("lease")), ExpiresAt: time.Unix(n("expiresAt"), 0),
	}
	if raw := s("resp"); raw != "" {
		r.Response = &Response{}
		if err := json.Unmarshal([]byte(raw), r.Response); err != nil {
			return nil, fmt.Errorf("idempotency record %s: %w", r.Key, err)
		}
	}
	return r, nil
}

func (d *DynamoDB) Acquire(ctx context.Context, r Record, now time.Time) (*Record, error) {
	r.State, r.Response = InFlight, nil
	it, err := d.item(r)
	if err != nil {
		return nil, err
	}
	eventstore.Record(ctx, "PutItem", 0, eventstore.WriteUnits([]eventstore.Item{it}, false))
	out, err := d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:    &d.table,
		Item:         it,
		ReturnValues: types.ReturnValueAllOld,
		// Expiry is checked here, not left to TTL, which deletes late.
		ConditionExpression: aws.String("attribute_not_exists(pk) OR expiresAt <= :nowSec OR (st = :inflight AND lease <= :nowMs)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":nowSec":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
			":nowMs":    &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
			":inflight": &types.AttributeValueMemberS{Value: InFlight},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old, derr := decode(ccf.Item)
		if derr != nil {
			return nil, derr
		}
		if old.Owner == r.Owner {
			// Our own write: its answer was lost and the SDK resent it.
			return old, nil
		}
		return old, ErrTaken
	}
	if err != nil {
		return nil, awserr.Write("acquire idempotency key", err)
	}
	if len(out.Attributes) > 0 {
		return decode(out.Attributes)
	}
	return nil, nil
}

func (d *DynamoDB) Complete(ctx context.Context, key, owner string, resp Response, expiresAt time.Time) error {
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	values := map[string]types.AttributeValue{
		":owner": &types.AttributeValueMemberS{Value: owner},
		":done":  &types.AttributeValueMemberS{Value: Done},
		":resp":  &types.AttributeValueMemberS{Value: string(b)},
		":exp":   &types.AttributeValueMemberN{Value: strconv.FormatInt(expiresAt.Unix(), 10)},
	}
	eventstore.Record(ctx, "UpdateItem", 0, eventstore.WriteUnits([]eventstore.Item{{"resp": values[":resp"]}}, false))
	_, err = d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.table,
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:          aws.String("SET st = :done, resp = :resp, expiresAt = :exp"),
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("complete %s: %w", key, ErrLeaseLost)
	}
	return awserr.Write("complete idempotency key", err)
}

func (d *DynamoDB) Release(ctx context.Context, key, owner string) error {
	eventstore.Record(ctx, "DeleteItem", 0, 1)
	_, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &d.table,
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key}},
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": &types.AttributeValueMemberS{Value: owner}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("release %s: %w", key, ErrLeaseLost)
	}
	return awserr.Write("release idempotency key", err)
}
