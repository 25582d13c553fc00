package viewtable

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

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
