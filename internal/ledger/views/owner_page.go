package views

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"annals/internal/kit/projection/viewtable"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AccountsOfOwnerPage returns up to limit of the owner's accounts whose ids
// sort after after ("" for the first page), in account id order. The key
// condition starts the read at after, so a page costs what it returns, not
// what came before it.
func (d *DynamoAccounts) AccountsOfOwnerPage(ctx context.Context, tenant, owner, after string, limit int) ([]AccountRow, error) {
	if limit < 1 || owner == "" {
		return nil, nil
	}
	cond := "ownerKey = :o"
	values := map[string]types.AttributeValue{":o": str(ownerKey(tenant, owner))}
	if after != "" {
		cond += " AND accountId > :a"
		values[":a"] = str(after)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		IndexName:                 aws.String(ByOwnerIndex),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeValues: values,
	}
	var out []AccountRow
	// A page may also end at 1 MB before the limit: Query reads on from there.
	if err := viewtable.Query(ctx, d.db, in, limit, 0, appendAccount(&out)); err != nil {
		return nil, fmt.Errorf("accounts of %s in %s after %q: %w", owner, tenant, after, err)
	}
	return out, nil
}

// AccountsOfOwnerPage is DynamoAccounts.AccountsOfOwnerPage in memory.
func (m *MemoryAccounts) AccountsOfOwnerPage(_ context.Context, tenant, owner, after string, limit int) ([]AccountRow, error) {
	if limit < 1 || owner == "" {
		return nil, nil
	}
	out := m.rows.where(func(r AccountRow) bool {
		return r.Tenant == tenant && OwnerIndexOf(r.State) == owner && r.AccountID > after
	})
	slices.SortFunc(out, func(a, b AccountRow) int { return strings.Compare(a.AccountID, b.AccountID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
