package views

import (
	"context"
	"errors"
	"fmt"
	"time"

	"annals/internal/kit/projection"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// PendingIndex is the transfers table's sparse index of the transfers
// still pending, oldest request first: only pending rows carry its key.
const PendingIndex = "Pending"

// pendingMark is the index's one partition value. The index holds only
// transfers in flight, a handful at any time, so one partition is enough.
const pendingMark = "pending"

// sortableTime formats requestedAt at a fixed width, so that the index's
// string order is time order (RFC 3339 with trimmed zeros is not).
const sortableTime = "2006-01-02T15:04:05.000000000Z"

// DynamoTransfers is the transfer view in the transfers table: one item per
// transfer, pk = tenant#transferId.
type DynamoTransfers struct {
	db    DynamoDB
	table string
}

// NewDynamoTransfers returns the view stored in table.
func NewDynamoTransfers(db DynamoDB, table string) *DynamoTransfers {
	return &DynamoTransfers{db: db, table: table}
}

func transferKey(tenant, id string) string { return tenant + "#" + id }

func (d *DynamoTransfers) Transfer(ctx context.Context, tenant, id string) (TransferRow, bool, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            map[string]types.AttributeValue{"pk": str(transferKey(tenant, id))},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return TransferRow{}, false, fmt.Errorf("get transfer %s#%s: %w", tenant, id, err)
	}
	if out.Item == nil {
		return TransferRow{}, false, nil
	}
	r, err := decodeTransfer(out.Item)
	if err != nil {
		return TransferRow{}, false, fmt.Errorf("get transfer %s#%s: %w", tenant, id, err)
	}
	return r, true, nil
}

func (d *DynamoTransfers) PutTransfer(ctx context.Context, row TransferRow, expected int64) error {
	_, err := d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(d.table),
		Item:                      encodeTransfer(row),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR version = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": num(expected)},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("put transfer %s#%s at %d: %w", row.Tenant, row.TransferID, expected, projection.ErrStale)
	}
	if err != nil {
		return fmt.Errorf("put transfer %s#%s at %d: %w", row.Tenant, row.TransferID, expected, err)
	}
	return nil
}

func (d *DynamoTransfers) PendingBefore(ctx context.Context, before time.Time, from app.Stuck, limit int) ([]app.Stuck, error) {
	var out []app.Stuck
	in := &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		IndexName:              aws.String(PendingIndex),
		KeyConditionExpression: aws.String("pending = :p AND requestedAt < :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": str(pendingMark), ":b": str(before.UTC().Format(sortableTime)),
		},
	}
	if from.TransferID != "" {
		// An index's start key is the table's key and the index's.
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			"pk":          str(transferKey(from.Tenant, from.TransferID)),
			"pending":     str(pendingMark),
			"requestedAt": str(from.RequestedAt.UTC().Format(sortableTime)),
		}
	}
	for len(out) < limit {
		in.Limit = aws.Int32(int32(min(limit-len(out), 1000)))
		page, err := d.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("pending transfers before %s: %w", before.Format(time.RFC3339), err)
		}
		for _, it := range page.Items {
			r := item(it)
			s := app.Stuck{Tenant: r.s("tenant"), TransferID: r.s("transferId"), RequestedAt: r.time("requestedAt")}
			if r.err != nil {
				return nil, fmt.Errorf("pending transfers: %w", r.err)
			}
			out = append(out, s)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out, nil
}

func encodeTransfer(r TransferRow) map[string]types.AttributeValue {
	t := r.State.Transfer
	it := map[string]types.AttributeValue{
		"pk":         str(transferKey(r.Tenant, r.TransferID)),
		"tenant":     str(r.Tenant),
		"transferId": str(r.TransferID),
		"amount":     num(t.Amount),
		"version":    num(r.Version),
		"debited":    &types.AttributeValueMemberBOOL{Value: t.Debited},
		"refunded":   &types.AttributeValueMemberBOOL{Value: t.Refunded},
	}
	for name, v := range map[string]string{
		"fromAccountId": t.FromAccountID, "toAccountId": t.ToAccountID, "currency": string(t.Currency),
		"reference": t.Reference, "status": string(t.Status), "reason": t.Reason, "correlationId": t.CorrelationID,
	} {
		if v != "" {
			it[name] = str(v)
		}
	}
	if !r.UpdatedAt.IsZero() {
		it["updatedAt"] = str(r.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	if !r.State.RequestedAt.IsZero() {
		it["requestedAt"] = str(r.State.RequestedAt.UTC().Format(sortableTime))
		if t.Status == transfer.StatusPending {
			it["pending"] = str(pendingMark)
		}
	}
	if q := r.Quarantine; q != nil {
		it["quarantined"] = &types.AttributeValueMemberBOOL{Value: true}
		it["quarantineReason"] = str(q.Reason)
		it["quarantinedAt"] = num(q.At)
	}
	return it
}

func decodeTransfer(raw map[string]types.AttributeValue) (TransferRow, error) {
	it := item(raw)
	flag := func(name string) bool {
		b, _ := raw[name].(*types.AttributeValueMemberBOOL)
		return b != nil && b.Value
	}
	r := TransferRow{
		Tenant:     it.s("tenant"),
		TransferID: it.s("transferId"),
		Version:    it.n("version"),
		UpdatedAt:  it.time("updatedAt"),
		State: TransferState{
			Transfer: transfer.Transfer{
				ID: it.s("transferId"), FromAccountID: it.s("fromAccountId"), ToAccountID: it.s("toAccountId"),
				Amount: it.n("amount"), Currency: account.Currency(it.s("currency")), Reference: it.s("reference"),
				Status: transfer.Status(it.s("status")), Debited: flag("debited"), Reason: it.s("reason"),
				Refunded: flag("refunded"), CorrelationID: it.s("correlationId"),
			},
			RequestedAt: it.time("requestedAt"),
		},
	}
	if flag("quarantined") {
		r.Quarantine = &projection.Quarantine{Reason: it.s("quarantineReason"), At: it.n("quarantinedAt")}
	}
	if r.Tenant == "" || r.TransferID == "" {
		return r, errors.New("transfer item without tenant or transferId")
	}
	return r, it.err
}
