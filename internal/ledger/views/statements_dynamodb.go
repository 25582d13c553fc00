package views

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection/viewtable"
	"annals/internal/ledger/account"
)

// statementHeadKey is the sort key of an account's head. It sorts after
// every date (a letter after any digit), so a range of days never reads it.
const statementHeadKey = "head"

// DynamoStatements is the statement view in the statements table: per
// account (pk = tenant#accountId), one item per day at sort key = its date
// (YYYY-MM-DD), so a Query reads a range of days in order, and the head at
// sort key "head". The head carries a copy of the last day, so that
// applying a commit reads one item.
type DynamoStatements struct {
	db    DB
	table string
}

// NewDynamoStatements returns the statement view stored in table.
func NewDynamoStatements(db DB, table string) *DynamoStatements {
	return &DynamoStatements{db: db, table: table}
}

func (d *DynamoStatements) Head(ctx context.Context, tenant, accountID string) (StatementHead, bool, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            map[string]types.AttributeValue{"pk": str(accountKey(tenant, accountID)), "sk": str(statementHeadKey)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return StatementHead{}, false, fmt.Errorf("statement head of %s#%s: %w", tenant, accountID, err)
	}
	if out.Item == nil {
		return StatementHead{}, false, nil
	}
	h, err := decodeStatementHead(out.Item)
	if err != nil {
		return StatementHead{}, false, fmt.Errorf("statement head of %s#%s: %w", tenant, accountID, err)
	}
	return h, true, nil
}

// SaveDays writes the head and the days in one transaction (the head's
// put conditional on its version); without days it is one conditional
// PutItem.
func (d *DynamoStatements) SaveDays(ctx context.Context, tenant, accountID string, days []StatementDay, head StatementHead, expected int64) error {
	if err := checkDays(tenant, accountID, days, head, expected); err != nil {
		return err
	}
	k := accountKey(tenant, accountID)
	rows := make([]map[string]types.AttributeValue, len(days))
	for i, day := range days {
		rows[i] = encodeDay(day)
		rows[i]["pk"], rows[i]["sk"] = str(k), str(day.Date)
	}
	if err := viewtable.WriteWithRows(ctx, d.db, d.table, encodeStatementHead(k, head), expected, rows); err != nil {
		return fmt.Errorf("save statements of %s: %w", k, err)
	}
	return nil
}

func (d *DynamoStatements) Days(ctx context.Context, tenant, accountID, from, to string) ([]StatementDay, error) {
	if from > to {
		return nil, nil
	}
	in := &dynamodb.QueryInput{
		ConsistentRead:         aws.Bool(true),
		TableName:              aws.String(d.table),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(accountKey(tenant, accountID)), ":from": str(from), ":to": str(to),
		},
	}
	var out []StatementDay
	for {
		page, err := d.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("statement days of %s#%s from %s to %s: %w", tenant, accountID, from, to, err)
		}
		for _, raw := range page.Items {
			day, err := decodeDay(raw, "sk")
			if err != nil {
				return nil, fmt.Errorf("statement days of %s#%s: %w", tenant, accountID, err)
			}
			out = append(out, day)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func (d *DynamoStatements) DayBefore(ctx context.Context, tenant, accountID, date string) (StatementDay, bool, error) {
	page, err := d.db.Query(ctx, &dynamodb.QueryInput{
		ConsistentRead:         aws.Bool(true),
		TableName:              aws.String(d.table),
		KeyConditionExpression: aws.String("pk = :pk AND sk < :date"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(accountKey(tenant, accountID)), ":date": str(date),
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(1),
	})
	if err != nil {
		return StatementDay{}, false, fmt.Errorf("statement day of %s#%s before %s: %w", tenant, accountID, date, err)
	}
	if len(page.Items) == 0 {
		return StatementDay{}, false, nil
	}
	day, err := decodeDay(page.Items[0], "sk")
	if err != nil {
		return StatementDay{}, false, fmt.Errorf("statement day of %s#%s before %s: %w", tenant, accountID, date, err)
	}
	return day, true, nil
}

// encodeDay is a day's attributes, without its key.
func encodeDay(d StatementDay) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"opening":      num(d.Opening),
		"deposits":     num(d.Deposits),
		"withdrawals":  num(d.Withdrawals),
		"transfersIn":  num(d.TransfersIn),
		"transfersOut": num(d.TransfersOut),
		"refunds":      num(d.Refunds),
		"closing":      num(d.Closing),
		"movements":    num(d.Movements),
		"firstVersion": num(d.FirstVersion),
		"lastVersion":  num(d.LastVersion),
	}
}

// decodeDay reads a day whose date is the attribute dateAttr.
func decodeDay(raw map[string]types.AttributeValue, dateAttr string) (StatementDay, error) {
	it := viewtable.Read(raw)
	d := StatementDay{
		Date: it.S(dateAttr), Opening: it.N("opening"),
		Deposits: it.N("deposits"), Withdrawals: it.N("withdrawals"),
		TransfersIn: it.N("transfersIn"), TransfersOut: it.N("transfersOut"), Refunds: it.N("refunds"),
		Closing: it.N("closing"), Movements: it.N("movements"),
		FirstVersion: it.N("firstVersion"), LastVersion: it.N("lastVersion"),
	}
	if err := it.Err(); err != nil {
		return d, err
	}
	if _, err := time.Parse(DateLayout, d.Date); err != nil {
		return d, fmt.Errorf("statement day %q is not a date", d.Date)
	}
	return d, nil
}

// encodeStatementHead is the head's item: the position as every view
// stores it, the currency and transfers in flight (left out when empty:
// DynamoDB has no empty set), and the last day as a map.
func encodeStatementHead(k string, h StatementHead) map[string]types.AttributeValue {
	it := encodePosition(k, h.Position)
	it["sk"] = str(statementHeadKey)
	if h.Currency != "" {
		it["currency"] = str(string(h.Currency))
	}
	if len(h.InFlight) > 0 {
		it["inFlight"] = &types.AttributeValueMemberSS{Value: slices.Clone(h.InFlight)}
	}
	if h.Last.Date != "" {
		last := encodeDay(h.Last)
		last["date"] = str(h.Last.Date)
		it["last"] = &types.AttributeValueMemberM{Value: last}
	}
	return it
}

func decodeStatementHead(raw map[string]types.AttributeValue) (StatementHead, error) {
	it := viewtable.Read(raw)
	h := StatementHead{Position: it.Position(), Currency: account.Currency(it.S("currency"))}
	if err := it.Err(); err != nil {
		return h, err
	}
	if ss, ok := raw["inFlight"].(*types.AttributeValueMemberSS); ok && len(ss.Value) > 0 {
		// A set comes back in no particular order.
		h.InFlight = slices.Sorted(slices.Values(ss.Value))
	}
	if m, ok := raw["last"].(*types.AttributeValueMemberM); ok {
		last, err := decodeDay(m.Value, "date")
		if err != nil {
			return h, fmt.Errorf("last day: %w", err)
		}
		h.Last = last
	}
	return h, nil
}
