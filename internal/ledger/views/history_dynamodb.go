package views

import (
	"context"
	"fmt"
	"math"
	"time"

	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"

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
	it := viewtable.Read(out.Item)
	p := it.Position()
	if it.Err() != nil {
		return projection.Position{}, false, fmt.Errorf("history position of %s#%s: %w", tenant, accountID, it.Err())
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
	rows := make([]map[string]types.AttributeValue, len(entries))
	for i, e := range entries {
		rows[i] = encodeEntry(k, e)
	}
	if err := viewtable.WriteWithRows(ctx, d.db, d.table, encodePosition(k, pos), expected, rows); err != nil {
		return fmt.Errorf("append history of %s: %w", k, err)
	}
	return nil
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
	}
	err := viewtable.Query(ctx, d.db, in, limit, 0, func(raw map[string]types.AttributeValue) error {
		e, err := decodeEntry(tenant, accountID, raw)
		out = append(out, e)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s#%s: %w", tenant, accountID, err)
	}
	return out, nil
}

func encodePosition(k string, p projection.Position) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{"pk": str(k), "sk": num(0)}
	viewtable.SetPosition(it, p)
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
	it := viewtable.Read(raw)
	e := HistoryEntry{
		Tenant: tenant, AccountID: accountID,
		Version: it.N("sk"), EventID: it.S("eventId"), Kind: it.S("kind"),
		Amount: it.N("amount"), BalanceAfter: it.N("balanceAfter"),
		Reference: it.S("reference"), TransferID: it.S("transferId"),
		OccurredAt: it.Time("occurredAt"), RecordedAt: it.Time("recordedAt"),
	}
	return e, it.Err()
}
