package views

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"
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
	rows  *viewtable.Table[TransferRow]
}

// NewDynamoTransfers returns the view stored in table.
func NewDynamoTransfers(db DynamoDB, table string) *DynamoTransfers {
	return &DynamoTransfers{db: db, table: table, rows: viewtable.New(db, table, "transfer", encodeTransfer, decodeTransfer)}
}

func transferKey(tenant, id string) string { return viewtable.Key(tenant, id) }

func (d *DynamoTransfers) Transfer(ctx context.Context, tenant, id string) (TransferRow, bool, error) {
	return d.rows.Get(ctx, tenant, id)
}

func (d *DynamoTransfers) PutTransfer(ctx context.Context, row TransferRow, expected int64) error {
	return d.rows.Put(ctx, row.Tenant, row.TransferID, row, expected)
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
	if limit <= 0 {
		return nil, nil
	}
	err := viewtable.Query(ctx, d.db, in, limit, 1000, func(it map[string]types.AttributeValue) error {
		r := viewtable.Read(it)
		out = append(out, app.Stuck{Tenant: r.S("tenant"), TransferID: r.S("transferId"), RequestedAt: r.Time("requestedAt")})
		return r.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pending transfers before %s: %w", before.Format(time.RFC3339), err)
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
	viewtable.SetPosition(it, projection.Position{Version: r.Version, UpdatedAt: r.UpdatedAt, Quarantine: r.Quarantine})
	if !r.State.RequestedAt.IsZero() {
		it["requestedAt"] = str(r.State.RequestedAt.UTC().Format(sortableTime))
		if t.Status == transfer.StatusPending {
			it["pending"] = str(pendingMark)
		}
	}
	return it
}

func decodeTransfer(raw map[string]types.AttributeValue) (TransferRow, error) {
	it := viewtable.Read(raw)
	r := TransferRow{
		Tenant:     it.S("tenant"),
		TransferID: it.S("transferId"),
		State: TransferState{
			Transfer: transfer.Transfer{
				ID: it.S("transferId"), FromAccountID: it.S("fromAccountId"), ToAccountID: it.S("toAccountId"),
				Amount: it.N("amount"), Currency: account.Currency(it.S("currency")), Reference: it.S("reference"),
				Status: transfer.Status(it.S("status")), Debited: it.Bool("debited"), Reason: it.S("reason"),
				Refunded: it.Bool("refunded"), CorrelationID: it.S("correlationId"),
			},
			RequestedAt: it.Time("requestedAt"),
		},
	}
	pos := it.Position()
	r.Version, r.UpdatedAt, r.Quarantine = pos.Version, pos.UpdatedAt, pos.Quarantine
	if r.Tenant == "" || r.TransferID == "" {
		return r, errors.New("transfer item without tenant or transferId")
	}
	return r, it.Err()
}
