package views

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"annals/internal/kit/projection"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DB is the part of the DynamoDB client the views' stores use: the history
// writes its entries with its position in transactions.
type DB interface {
	DynamoDB
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// historyChunk is how many entries go in one transaction with the
// position item: DynamoDB takes at most 100 items per transaction.
const historyChunk = 99

// DynamoHistory is the transaction history in the history table: per
// account (pk = tenant#accountId), the position item at sort key 0 and
// one item per entry at sort key = its stream version, so a descending
// Query reads newest first.
type DynamoHistory struct {
	db    DB
	table string
}

// NewDynamoHistory returns the history stored in table.
func NewDynamoHistory(db DB, table string) *DynamoHistory {
	return &DynamoHistory{db: db, table: table}
}

func (d *DynamoHistory) Position(ctx context.Context, tenant, accountID string) (projection.Position, bool, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            map[string]types.AttributeValue{"pk": str(accountKey(tenant, accountID)), "sk": num(0)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return projection.Position{}, false, fmt.Errorf("history position of %s#%s: %w", tenant, accountID, err)
	}
	if out.Item == nil {
		return projection.Position{}, false, nil
	}
	var p projection.Position
	it := item(out.Item)
	p.Version = it.n("version")
	p.UpdatedAt = it.time("updatedAt")
	if q, ok := out.Item["quarantined"].(*types.AttributeValueMemberBOOL); ok && q.Value {
		p.Quarantine = &projection.Quarantine{Reason: it.s("quarantineReason"), At: it.n("quarantinedAt")}
	}
	if it.err != nil {
		return projection.Position{}, false, fmt.Errorf("history position of %s#%s: %w", tenant, accountID, it.err)
	}
	return p, true, nil
}

// AppendHistory writes the entries with the position in transactions of
// up to historyChunk entries; each moves the position to its last entry,
// so a failure between two leaves a position that a retry resumes from.
// Without entries it is one conditional PutItem.
func (d *DynamoHistory) AppendHistory(ctx context.Context, tenant, accountID string, entries []HistoryEntry, pos projection.Position, expected int64) error {
	if err := checkEntries(tenant, accountID, entries, pos, expected); err != nil {
		return err
	}
	for len(entries) > historyChunk {
		chunk := entries[:historyChunk]
		last := chunk[len(chunk)-1]
		if err := d.write(ctx, tenant, accountID, chunk, projection.Position{Version: last.Version, UpdatedAt: last.RecordedAt}, expected); err != nil {
			return err
		}
		entries, expected = entries[historyChunk:], last.Version
	}
	return d.write(ctx, tenant, accountID, entries, pos, expected)
}

func (d *DynamoHistory) write(ctx context.Context, tenant, accountID string, entries []HistoryEntry, pos projection.Position, expected int64) error {
	k := accountKey(tenant, accountID)
	position := &types.Put{
		TableName:                 aws.String(d.table),
		Item:                      encodePosition(k, pos),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR version = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": num(expected)},
	}
	var err error
	if len(entries) == 0 {
		_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: position.TableName, Item: position.Item,
			ConditionExpression: position.ConditionExpression, ExpressionAttributeValues: position.ExpressionAttributeValues,
		})
	} else {
		items := make([]types.TransactWriteItem, 0, len(entries)+1)
		items = append(items, types.TransactWriteItem{Put: position})
		for _, e := range entries {
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(d.table), Item: encodeEntry(k, e)}})
		}
		_, err = d.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	}
	if stale(err) {
		return fmt.Errorf("append history of %s at %d: %w", k, expected, projection.ErrStale)
	}
	if err != nil {
		return fmt.Errorf("append history of %s at %d: %w", k, expected, err)
	}
	return nil
}

// stale reports whether a write failed on the position's condition alone.
func stale(err error) bool {
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

func (d *DynamoHistory) Transactions(ctx context.Context, tenant, accountID string, before int64, limit int) ([]HistoryEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	hi := int64(math.MaxInt64)
	if before > 0 {
		hi = before - 1
	}
	if hi < 1 {
		return nil, nil
	}
	out := make([]HistoryEntry, 0, limit)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(accountKey(tenant, accountID)), ":lo": num(1), ":hi": num(hi),
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(int32(limit)),
	}
	for {
		page, err := d.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("history of %s#%s: %w", tenant, accountID, err)
		}
		for _, raw := range page.Items {
			e, err := decodeEntry(tenant, accountID, raw)
			if err != nil {
				return nil, fmt.Errorf("history of %s#%s: %w", tenant, accountID, err)
			}
			out = append(out, e)
		}
		if len(out) >= limit || len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
		in.Limit = aws.Int32(int32(limit - len(out)))
	}
}

func encodePosition(k string, p projection.Position) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{"pk": str(k), "sk": num(0), "version": num(p.Version)}
	if !p.UpdatedAt.IsZero() {
		it["updatedAt"] = str(p.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	if q := p.Quarantine; q != nil {
		it["quarantined"] = &types.AttributeValueMemberBOOL{Value: true}
		it["quarantineReason"] = str(q.Reason)
		it["quarantinedAt"] = num(q.At)
	}
	return it
}

func encodeEntry(k string, e HistoryEntry) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk":           str(k),
		"sk":           num(e.Version),
		"eventId":      str(e.EventID),
		"kind":         str(e.Kind),
		"amount":       num(e.Amount),
		"balanceAfter": num(e.BalanceAfter),
		"occurredAt":   str(e.OccurredAt.UTC().Format(time.RFC3339Nano)),
		"recordedAt":   str(e.RecordedAt.UTC().Format(time.RFC3339Nano)),
	}
	if e.Reference != "" {
		it["reference"] = str(e.Reference)
	}
	if e.TransferID != "" {
		it["transferId"] = str(e.TransferID)
	}
	return it
}

func decodeEntry(tenant, accountID string, raw map[string]types.AttributeValue) (HistoryEntry, error) {
	it := item(raw)
	e := HistoryEntry{
		Tenant: tenant, AccountID: accountID,
		Version: it.n("sk"), EventID: it.s("eventId"), Kind: it.s("kind"),
		Amount: it.n("amount"), BalanceAfter: it.n("balanceAfter"),
		Reference: it.s("reference"), TransferID: it.s("transferId"),
		OccurredAt: it.time("occurredAt"), RecordedAt: it.time("recordedAt"),
	}
	return e, it.err
}

// item reads attributes of one item, keeping the first error.
type itemReader struct {
	raw map[string]types.AttributeValue
	err error
}

func item(raw map[string]types.AttributeValue) *itemReader { return &itemReader{raw: raw} }

func (r *itemReader) s(name string) string {
	v, _ := r.raw[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func (r *itemReader) n(name string) int64 {
	v, ok := r.raw[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return n
}

func (r *itemReader) time(name string) time.Time {
	s := r.s(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return t.UTC()
}
