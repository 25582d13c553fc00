package views

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/personal"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"
	"annals/internal/ledger/account"
)

// DynamoDB is the part of the DynamoDB client the views use.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// ByOwnerIndex is the accounts table's index of accounts by tenant and owner.
const ByOwnerIndex = "ByOwner"

// DynamoAccounts is the account view in the accounts table: one item per
// account, pk = tenant#accountId.
type DynamoAccounts struct {
	db    DynamoDB
	table string
	rows  *viewtable.Table[AccountRow]
}

// NewDynamoAccounts returns the view stored in table.
func NewDynamoAccounts(db DynamoDB, table string) *DynamoAccounts {
	return &DynamoAccounts{db: db, table: table, rows: viewtable.New(db, table, "account", encodeAccount, decodeAccount)}
}

func accountKey(tenant, accountID string) string { return viewtable.Key(tenant, accountID) }

func ownerKey(tenant, owner string) string { return tenant + "#" + owner }

// OwnerIndexOf is the value ByOwner finds an account by: the owner's blind
// index (BlindOwner), or for an account opened before owners were sealed
// its owner as recorded, in the clear; "" for none.
func OwnerIndexOf(a account.Account) string {
	if a.OwnerIndex != "" {
		return BlindOwner(a.OwnerIndex)
	}
	if personal.IsSealed(a.Owner) {
		return ""
	}
	return a.Owner
}

// BlindOwner is the index value of an owner's blind index.
func BlindOwner(index string) string { return "blind:" + index }

func (d *DynamoAccounts) Account(ctx context.Context, tenant, accountID string) (AccountRow, bool, error) {
	return d.rows.Get(ctx, tenant, accountID)
}

func (d *DynamoAccounts) PutAccount(ctx context.Context, row AccountRow, expected int64) error {
	return d.rows.Put(ctx, row.Tenant, row.AccountID, row, expected)
}

func (d *DynamoAccounts) AccountsOfOwner(ctx context.Context, tenant, owner string) ([]AccountRow, error) {
	var out []AccountRow
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		IndexName:                 aws.String(ByOwnerIndex),
		KeyConditionExpression:    aws.String("ownerKey = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": str(ownerKey(tenant, owner))},
	}
	if err := viewtable.Query(ctx, d.db, in, 0, 0, appendAccount(&out)); err != nil {
		return nil, fmt.Errorf("accounts of %s in %s: %w", owner, tenant, err)
	}
	return out, nil
}

// appendAccount decodes each item onto out.
func appendAccount(out *[]AccountRow) func(map[string]types.AttributeValue) error {
	return func(it map[string]types.AttributeValue) error {
		r, err := decodeAccount(it)
		if err == nil {
			*out = append(*out, r)
		}
		return err
	}
}

// str and num are the attribute values the views' items are made of.
var str, num = viewtable.S, viewtable.N

// encodeAccount is the row's item. Optional attributes are left out rather
// than stored empty: an index key may not be an empty string, and absent
// owner means the account is not in ByOwner.
func encodeAccount(r AccountRow) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk":             str(accountKey(r.Tenant, r.AccountID)),
		"tenant":         str(r.Tenant),
		"accountId":      str(r.AccountID),
		"balance":        num(r.State.Balance),
		"overdraftLimit": num(r.State.OverdraftLimit),
	}
	viewtable.SetPosition(it, projection.Position{Version: r.Version, UpdatedAt: r.UpdatedAt, Quarantine: r.Quarantine})
	if r.State.ID != "" {
		it["openedAs"] = str(r.State.ID)
	}
	if r.State.Owner != "" {
		it["owner"] = str(r.State.Owner)
	}
	if idx := OwnerIndexOf(r.State); idx != "" {
		it["ownerKey"] = str(ownerKey(r.Tenant, idx))
	}
	if r.State.OwnerIndex != "" {
		it["ownerIndex"] = str(r.State.OwnerIndex)
	}
	if r.State.DataSubject != "" {
		it["dataSubject"] = str(r.State.DataSubject)
	}
	if r.State.Currency != "" {
		it["currency"] = str(string(r.State.Currency))
	}
	if r.State.Status != account.StatusNone {
		it["status"] = str(string(r.State.Status))
	}
	if len(r.State.TransfersInFlight) > 0 {
		m := make(map[string]types.AttributeValue, len(r.State.TransfersInFlight))
		for id, amount := range r.State.TransfersInFlight {
			m[id] = num(amount)
		}
		it["transfersInFlight"] = &types.AttributeValueMemberM{Value: m}
	}
	return it
}

func decodeAccount(raw map[string]types.AttributeValue) (AccountRow, error) {
	it := viewtable.Read(raw)
	r := AccountRow{
		Tenant:    it.S("tenant"),
		AccountID: it.S("accountId"),
		State: account.Account{
			ID:             it.S("openedAs"),
			DataSubject:    it.S("dataSubject"),
			Owner:          it.S("owner"),
			OwnerIndex:     it.S("ownerIndex"),
			Currency:       account.Currency(it.S("currency")),
			OverdraftLimit: it.N("overdraftLimit"),
			Balance:        it.N("balance"),
			Status:         account.Status(it.S("status")),
		},
	}
	pos := it.Position()
	r.Version, r.UpdatedAt, r.Quarantine = pos.Version, pos.UpdatedAt, pos.Quarantine
	if m, ok := raw["transfersInFlight"].(*types.AttributeValueMemberM); ok && len(m.Value) > 0 {
		r.State.TransfersInFlight = make(map[string]int64, len(m.Value))
		for id, v := range m.Value {
			n, ok := v.(*types.AttributeValueMemberN)
			if !ok {
				return r, fmt.Errorf("transfer %s in flight is not a number", id)
			}
			amount, perr := strconv.ParseInt(n.Value, 10, 64)
			if perr != nil {
				return r, fmt.Errorf("transfer %s in flight: %w", id, perr)
			}
			r.State.TransfersInFlight[id] = amount
		}
	}
	if r.Tenant == "" || r.AccountID == "" {
		return r, errors.New("account item without tenant or accountId")
	}
	return r, it.Err()
}
