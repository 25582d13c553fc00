// Package dynamostore is the event store's DynamoDB backend: conditional
// PutItem for a plain commit, TransactWriteItems for guarded and multi-stream
// commits, consistent Queries for loads and reads, parallel Scans for the
// repairs that read the whole table.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/awserr"
	"annals/internal/kit/eventstore"
)

// API is the part of the DynamoDB client the backend uses.
type API interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// scanAPI and describeAPI are the parts of the DynamoDB client that only
// the repairs use (Scan, ItemCount); *dynamodb.Client has both. They are
// asserted where used rather than named in API: an interface that names
// an operation makes every binary holding it link the operation's
// serializers, and the Lambda functions, which never scan, would carry
// some 130 KB of them.
type scanAPI interface {
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

type describeAPI interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// The events table's key schema, as template.yaml declares EventsTable:
// the store keys its items by these attributes, and the contract suite,
// run on a table made from the template, fails if they ever part.
const (
	partitionKey = "pk"
	sortKey      = "sk"
)

// Backend stores event store items in one DynamoDB table.
type Backend struct {
	db    API
	table string
}

// New returns a backend over the events table.
func New(db API, table string) *Backend {
	return &Backend{db: db, table: table}
}

var notExists = aws.String("attribute_not_exists(" + partitionKey + ")")

// condition is the write's condition, if it has one: the item must not
// exist, or (with ExpiredBy) must have expired by then.
func condition(w eventstore.Write) (*string, map[string]types.AttributeValue) {
	if !w.MustNotExist {
		return nil, nil
	}
	if w.ExpiredBy.IsZero() {
		return notExists, nil
	}
	return aws.String(*notExists + " OR " + eventstore.ExpiryAttribute + " <= :expiredBy"),
		map[string]types.AttributeValue{":expiredBy": &types.AttributeValueMemberN{Value: strconv.FormatInt(w.ExpiredBy.Unix(), 10)}}
}

// Write implements eventstore.Backend.
func (b *Backend) Write(ctx context.Context, writes []eventstore.Write, token string) error {
	switch len(writes) {
	case 0:
		return fmt.Errorf("%w: no writes", eventstore.ErrInvalid)
	case 1:
		return b.put(ctx, writes[0])
	}
	items := make([]eventstore.Item, len(writes))
	tx := make([]types.TransactWriteItem, len(writes))
	for i, w := range writes {
		items[i] = w.Item
		put := &types.Put{TableName: &b.table, Item: w.Item}
		if cond, values := condition(w); cond != nil {
			put.ConditionExpression, put.ExpressionAttributeValues = cond, values
			put.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
		}
		tx[i] = types.TransactWriteItem{Put: put}
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: tx}
	if token != "" {
		// Makes a resent transaction idempotent for ten minutes on AWS.
		in.ClientRequestToken = aws.String(token)
	}
	eventstore.Record(ctx, "TransactWriteItems", 0, eventstore.WriteUnits(items, true))
	_, err := b.db.TransactWriteItems(ctx, in)
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		var failed []eventstore.FailedWrite
		var contended []int
		retryable := false
		for i, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				failed = append(failed, eventstore.FailedWrite{Index: i, Existing: r.Item})
			case "TransactionConflict":
				contended = append(contended, i)
			case "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
				retryable = true
			}
		}
		switch {
		case len(failed) > 0:
			return &eventstore.ConditionFailedError{Failed: failed}
		case len(contended) > 0:
			return &eventstore.ContendedError{Writes: contended, Err: err}
		case retryable:
			return fmt.Errorf("transact write: %w: %w", eventstore.ErrThrottled, err)
		}
	}
	return awserr.Write("transact write", err)
}

func (b *Backend) put(ctx context.Context, w eventstore.Write) error {
	in := &dynamodb.PutItemInput{TableName: &b.table, Item: w.Item}
	if cond, values := condition(w); cond != nil {
		in.ConditionExpression, in.ExpressionAttributeValues = cond, values
		in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	eventstore.Record(ctx, "PutItem", 0, eventstore.WriteUnits([]eventstore.Item{w.Item}, false))
	_, err := b.db.PutItem(ctx, in)
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &eventstore.ConditionFailedError{Failed: []eventstore.FailedWrite{{Index: 0, Existing: ccf.Item}}}
	}
	return awserr.Write("put", err)
}

// Query implements eventstore.Backend.
func (b *Backend) Query(ctx context.Context, q eventstore.Query) (eventstore.Page, error) {
	cond := partitionKey + " = :pk"
	values := map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: q.PK}}
	switch {
	case q.From != nil && q.To != nil:
		cond += " AND " + sortKey + " BETWEEN :from AND :to"
	case q.From != nil:
		cond += " AND " + sortKey + " >= :from"
	case q.To != nil:
		cond += " AND " + sortKey + " <= :to"
	}
	if q.From != nil {
		values[":from"] = &types.AttributeValueMemberN{Value: q.From.String()}
	}
	if q.To != nil {
		values[":to"] = &types.AttributeValueMemberN{Value: q.To.String()}
	}
	in := &dynamodb.QueryInput{
		TableName:                 &b.table,
		KeyConditionExpression:    &cond,
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(!q.Descending),
		ConsistentRead:            aws.Bool(q.Consistent),
		ExclusiveStartKey:         q.Start,
	}
	if q.Limit > 0 {
		in.Limit = aws.Int32(q.Limit)
	}
	out, err := b.db.Query(ctx, in)
	if err != nil {
		eventstore.RecordRead(ctx, "Query", nil, q.Consistent)
		return eventstore.Page{}, awserr.Read("query", err)
	}
	eventstore.RecordRead(ctx, "Query", out.Items, q.Consistent)
	return eventstore.Page{Items: out.Items, Next: out.LastEvaluatedKey}, nil
}

// Get implements eventstore.Backend.
func (b *Backend) Get(ctx context.Context, pk string, sk eventstore.SortKey) (eventstore.Item, error) {
	out, err := b.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &b.table,
		Key: map[string]types.AttributeValue{
			partitionKey: &types.AttributeValueMemberS{Value: pk},
			sortKey:      &types.AttributeValueMemberN{Value: sk.String()},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		eventstore.RecordRead(ctx, "GetItem", nil, true)
		return nil, awserr.Read("get", err)
	}
	eventstore.RecordRead(ctx, "GetItem", []eventstore.Item{out.Item}, true)
	return out.Item, nil
}

// maxSegments is DynamoDB's limit on TotalSegments, maxOneOf on the
// values of an IN.
const (
	maxSegments = 1_000_000
	maxOneOf    = 100
)

// Scan implements eventstore.Backend. The client must have Scan.
func (b *Backend) Scan(ctx context.Context, sc eventstore.Scan) (eventstore.ScanPage, error) {
	db, ok := b.db.(scanAPI)
	if !ok {
		return eventstore.ScanPage{}, fmt.Errorf("scan %s: the DynamoDB client %T has no Scan", b.table, b.db)
	}
	// DynamoDB refuses a segment out of 0..TotalSegments-1, and a segment
	// without a total; the SDK checks neither, and moto not all of it.
	if sc.Segment < 0 || sc.Segments < 0 || sc.Segments > maxSegments {
		return eventstore.ScanPage{}, fmt.Errorf("%w: scan segment %d of %d", eventstore.ErrInvalid, sc.Segment, sc.Segments)
	}
	in := &dynamodb.ScanInput{
		TableName:         &b.table,
		ConsistentRead:    aws.Bool(sc.Consistent),
		ExclusiveStartKey: sc.Start,
	}
	if sc.Segments > 0 || sc.Segment != 0 {
		in.Segment = aws.Int32(sc.Segment)
	}
	if sc.Segments > 0 {
		in.TotalSegments = aws.Int32(sc.Segments)
	}
	if sc.Limit > 0 {
		in.Limit = aws.Int32(sc.Limit)
	}
	if len(sc.Filter) > 0 {
		conds := make([]string, len(sc.Filter))
		in.ExpressionAttributeNames = map[string]string{}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{}
		for i, f := range sc.Filter {
			name, value := fmt.Sprintf("#f%d", i), fmt.Sprintf(":f%d", i)
			in.ExpressionAttributeNames[name] = f.Name
			switch f.Op {
			case eventstore.MatchEqual:
				conds[i] = name + " = " + value
				in.ExpressionAttributeValues[value] = &types.AttributeValueMemberS{Value: f.Value}
			case eventstore.MatchAtLeast:
				conds[i] = name + " >= " + value
				in.ExpressionAttributeValues[value] = &types.AttributeValueMemberS{Value: f.Value}
			case eventstore.MatchOneOf:
				if len(f.Values) == 0 || len(f.Values) > maxOneOf {
					return eventstore.ScanPage{}, fmt.Errorf("%w: filter %+v", eventstore.ErrInvalid, f)
				}
				values := make([]string, len(f.Values))
				for j, v := range f.Values {
					values[j] = fmt.Sprintf("%s_%d", value, j)
					in.ExpressionAttributeValues[values[j]] = &types.AttributeValueMemberS{Value: v}
				}
				conds[i] = name + " IN (" + strings.Join(values, ", ") + ")"
			default:
				return eventstore.ScanPage{}, fmt.Errorf("%w: filter %+v", eventstore.ErrInvalid, f)
			}
		}
		in.FilterExpression = aws.String(strings.Join(conds, " AND "))
	}
	out, err := db.Scan(ctx, in)
	if err != nil {
		eventstore.RecordRead(ctx, "Scan", nil, sc.Consistent)
		return eventstore.ScanPage{}, awserr.Read("scan", err)
	}
	// DynamoDB bills a filtered scan for the items it dropped as well, and
	// does not return them: the units recorded here are those of the items
	// received, a floor.
	eventstore.RecordRead(ctx, "Scan", out.Items, sc.Consistent)
	page := eventstore.ScanPage{Items: out.Items, Scanned: int(out.ScannedCount)}
	if len(out.LastEvaluatedKey) > 0 {
		page.Next = out.LastEvaluatedKey
	}
	return page, nil
}

// ItemCount implements eventstore.ItemCounter with the table's ItemCount,
// which DynamoDB refreshes about every six hours. The client must have
// DescribeTable.
func (b *Backend) ItemCount(ctx context.Context) (int64, error) {
	db, ok := b.db.(describeAPI)
	if !ok {
		return 0, fmt.Errorf("count the items of %s: the DynamoDB client %T has no DescribeTable", b.table, b.db)
	}
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &b.table})
	eventstore.Record(ctx, "DescribeTable", 0, 0)
	if err != nil {
		return 0, awserr.Read("describe table "+b.table, err)
	}
	if out.Table == nil {
		return 0, nil
	}
	return aws.ToInt64(out.Table.ItemCount), nil
}

// batchAPI is the part of the DynamoDB client that only archival uses.
type batchAPI interface {
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// batchAttempts bounds the BatchWriteItem requests of one WriteBatch:
// DynamoDB leaves unprocessed what it could not write for capacity (it
// throttles the items, not the request), and asks for them to be sent
// again after a backoff. With batchBackoff's delays, the eight attempts
// take about two seconds at most.
const batchAttempts = 8

// batchBackoff is the delay before the attempt after attempt (from 0):
// exponential from 25 ms, at most a second, less up to half at random.
func batchBackoff(attempt int) time.Duration {
	d := min(25*time.Millisecond<<attempt, time.Second)
	return d/2 + rand.N(d/2+1)
}

// WriteBatch implements eventstore.BatchWriter with BatchWriteItem,
// sending again, after a backoff, what DynamoDB leaves unprocessed, up to
// batchAttempts requests in all; what is still unprocessed then is
// eventstore.ErrThrottled. The client must have BatchWriteItem.
func (b *Backend) WriteBatch(ctx context.Context, puts, dels []eventstore.Item) error {
	db, ok := b.db.(batchAPI)
	if !ok {
		return fmt.Errorf("write a batch to %s: the DynamoDB client %T has no BatchWriteItem", b.table, b.db)
	}
	if err := eventstore.CheckBatch(puts, dels); err != nil {
		return err
	}
	reqs := make([]types.WriteRequest, 0, len(puts)+len(dels))
	for _, it := range puts {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	for _, k := range dels {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: eventstore.KeyOf(k)}})
	}
	units := eventstore.BatchUnits(puts, dels)
	pending := map[string][]types.WriteRequest{b.table: reqs}
	for attempt := 0; ; attempt++ {
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		eventstore.Record(ctx, "BatchWriteItem", 0, units*float64(len(pending[b.table]))/float64(len(reqs)))
		if err != nil {
			return awserr.Write("write a batch to "+b.table, err)
		}
		pending = out.UnprocessedItems
		left := len(pending[b.table])
		if left == 0 {
			return nil
		}
		if attempt+1 == batchAttempts {
			return fmt.Errorf("write a batch to %s: %d of %d writes still unprocessed after %d requests: %w",
				b.table, left, len(reqs), batchAttempts, eventstore.ErrThrottled)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("write a batch to %s: %d of %d writes unprocessed: %w", b.table, left, len(reqs), ctx.Err())
		case <-time.After(batchBackoff(attempt)):
		}
	}
}
