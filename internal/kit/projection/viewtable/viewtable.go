// Package viewtable is the DynamoDB side of a view's table: the attributes
// that hold a stream's position in the view (version, the last applied
// event's recordedAt, the quarantine), the write that is conditional on that
// position, and a table of one row per stream built on both. Whatever a view
// keeps of a stream is its own; how the position is stored and guarded is
// the same for every view, so that each refuses a stale writer with
// projection.ErrStale as the engine expects.
package viewtable

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection"
)

// DB is the part of the DynamoDB client a table of rows uses.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Key is a stream's partition key in a view's table: tenant#id.
func Key(tenant, id string) string { return tenant + "#" + id }

// Table is a view's table of one item per stream (pk = Key), each holding
// the view's row R: what the view keeps of the stream, and its position.
type Table[R any] struct {
	db     DB
	name   string
	noun   string
	encode func(R) map[string]types.AttributeValue
	decode func(map[string]types.AttributeValue) (R, error)
}

// New returns the table called name, whose rows encode turns into items and
// decode back; noun names a row in errors ("account"). encode must write
// the row's key under pk and its position with SetPosition.
func New[R any](db DB, name, noun string, encode func(R) map[string]types.AttributeValue, decode func(map[string]types.AttributeValue) (R, error)) *Table[R] {
	return &Table[R]{db: db, name: name, noun: noun, encode: encode, decode: decode}
}

// Get returns the stream's row (one consistent GetItem), or found false.
func (t *Table[R]) Get(ctx context.Context, tenant, id string) (row R, found bool, err error) {
	out, err := t.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.name),
		Key:            map[string]types.AttributeValue{"pk": S(Key(tenant, id))},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return row, false, fmt.Errorf("get %s %s#%s: %w", t.noun, tenant, id, err)
	}
	if out.Item == nil {
		return row, false, nil
	}
	r, err := t.decode(out.Item)
	if err != nil {
		return row, false, fmt.Errorf("get %s %s#%s: %w", t.noun, tenant, id, err)
	}
	return r, true, nil
}

// Put writes the stream's whole row (one PutItem) if it does not exist yet
// or its position is still expected, else fails with projection.ErrStale.
func (t *Table[R]) Put(ctx context.Context, tenant, id string, row R, expected int64) error {
	_, err := t.db.PutItem(ctx, PutItemInput(PositionPut(t.name, t.encode(row), expected)))
	if Stale(err) {
		return fmt.Errorf("put %s %s#%s at %d: %w", t.noun, tenant, id, expected, projection.ErrStale)
	}
	if err != nil {
		return fmt.Errorf("put %s %s#%s at %d: %w", t.noun, tenant, id, expected, err)
	}
	return nil
}

// PositionPut is the write of item, which holds a position, conditional on
// the position it replaces: no item under its key yet, or one at version
// expected. It goes alone (PutItemInput) or in a transaction.
func PositionPut(table string, item map[string]types.AttributeValue, expected int64) *types.Put {
	return &types.Put{
		TableName:                 aws.String(table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR version = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": N(expected)},
	}
}

// PutItemInput is p as a request of its own.
func PutItemInput(p *types.Put) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{
		TableName: p.TableName, Item: p.Item,
		ConditionExpression: p.ConditionExpression, ExpressionAttributeValues: p.ExpressionAttributeValues,
	}
}

// Stale reports whether a write failed on a condition alone: a PutItem's,
// or a transaction's that nothing else cancelled.
func Stale(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	failed := false
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			failed = true
		case "", "None":
		default:
			return false
		}
	}
	return failed
}

// Transactor is the part of the DynamoDB client WriteWithRows uses.
type Transactor interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// WriteWithRows writes position, an item that holds a stream's position,
// conditional on the position it replaces (as PositionPut), together with
// rows, more items of the stream, in one transaction: all or none. Without
// rows it is one PutItem. A refused condition is projection.ErrStale;
// what names the write in errors is the caller's to add.
func WriteWithRows(ctx context.Context, db Transactor, table string, position map[string]types.AttributeValue, expected int64, rows []map[string]types.AttributeValue) error {
	put := PositionPut(table, position, expected)
	var err error
	if len(rows) == 0 {
		_, err = db.PutItem(ctx, PutItemInput(put))
	} else {
		items := make([]types.TransactWriteItem, 0, len(rows)+1)
		items = append(items, types.TransactWriteItem{Put: put})
		for _, r := range rows {
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: r}})
		}
		_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	}
	if Stale(err) {
		return fmt.Errorf("at %d: %w", expected, projection.ErrStale)
	}
	return err
}
