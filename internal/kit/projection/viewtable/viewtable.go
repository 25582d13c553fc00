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
	"strconv"
	"time"

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

// Querier is the part of the DynamoDB client that Query uses.
type Querier interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Query reads what in matches, page after page, handing each item to take,
// until want items have come (want 0: all of them) or the pages end. A page
// asks for no more items than are still wanted, nor for more than pageMax
// (0: no bound but DynamoDB's 1 MB). It returns the first error of a
// request or of take, as it is.
func Query(ctx context.Context, db Querier, in *dynamodb.QueryInput, want, pageMax int, take func(item map[string]types.AttributeValue) error) error {
	for n := 0; want == 0 || n < want; {
		switch left := want - n; {
		case want > 0 && (pageMax == 0 || left < pageMax):
			in.Limit = aws.Int32(int32(left))
		case pageMax > 0:
			in.Limit = aws.Int32(int32(pageMax))
		}
		page, err := db.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			if err := take(it); err != nil {
				return err
			}
			n++
		}
		if len(page.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return nil
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

// SetPosition writes pos into item. Optional attributes are left out
// rather than stored empty.
func SetPosition(item map[string]types.AttributeValue, pos projection.Position) {
	item["version"] = N(pos.Version)
	if !pos.UpdatedAt.IsZero() {
		item["updatedAt"] = S(pos.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	if q := pos.Quarantine; q != nil {
		item["quarantined"] = &types.AttributeValueMemberBOOL{Value: true}
		item["quarantineReason"] = S(q.Reason)
		item["quarantinedAt"] = N(q.At)
	}
}

// S is a string attribute.
func S(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// N is a number attribute.
func N(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Attrs reads the attributes of one item, keeping the first error: an
// absent attribute reads as the zero value, a malformed one as an error.
type Attrs struct {
	raw map[string]types.AttributeValue
	err error
}

// Read returns the reader of item.
func Read(item map[string]types.AttributeValue) *Attrs { return &Attrs{raw: item} }

// Err is the first attribute that did not parse.
func (a *Attrs) Err() error { return a.err }

// S reads a string.
func (a *Attrs) S(name string) string {
	v, _ := a.raw[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// N reads an integer.
func (a *Attrs) N(name string) int64 {
	v, ok := a.raw[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return n
}

// Bool reads a boolean.
func (a *Attrs) Bool(name string) bool {
	v, _ := a.raw[name].(*types.AttributeValueMemberBOOL)
	return v != nil && v.Value
}

// Time reads an RFC 3339 time, in UTC.
func (a *Attrs) Time(name string) time.Time {
	s := a.S(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return t.UTC()
}

// Position reads what SetPosition wrote.
func (a *Attrs) Position() projection.Position {
	p := projection.Position{Version: a.N("version"), UpdatedAt: a.Time("updatedAt")}
	if a.Bool("quarantined") {
		p.Quarantine = &projection.Quarantine{Reason: a.S("quarantineReason"), At: a.N("quarantinedAt")}
	}
	return p
}
