package viewtable

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection"
)

// Scanner is the part of the DynamoDB client that Quarantined uses.
type Scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Scanned is what a scan of a view's table read.
type Scanned struct {
	Items     int     // items DynamoDB read, all of them billed
	ReadUnits float64 // as DynamoDB reported them
}

// Quarantined hands each to every stream a view's table holds quarantined:
// the tenant and id of its key (Key) and its position, read from the items
// that hold a position (SetPosition). It scans the whole table with
// eventually consistent reads, page after page: a filter does not lower
// what DynamoDB bills, every item is read. progress, if not nil, is called
// after each page with what has been read so far.
func Quarantined(ctx context.Context, db Scanner, table string, each func(tenant, id string, pos projection.Position) error, progress func(Scanned)) (Scanned, error) {
	var done Scanned
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		FilterExpression:          aws.String("quarantined = :q"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":q": &types.AttributeValueMemberBOOL{Value: true}},
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
	}
	for {
		page, err := db.Scan(ctx, in)
		if err != nil {
			return done, fmt.Errorf("scan %s for quarantined streams: %w", table, err)
		}
		done.Items += int(page.ScannedCount)
		if c := page.ConsumedCapacity; c != nil {
			done.ReadUnits += aws.ToFloat64(c.CapacityUnits)
		}
		for _, it := range page.Items {
			a := Read(it)
			key := a.S("pk")
			tenant, id, ok := strings.Cut(key, "#")
			pos := a.Position()
			if err := a.Err(); err != nil || !ok || pos.Quarantine == nil {
				return done, fmt.Errorf("%s: item %q does not hold a quarantined position: %v", table, key, err)
			}
			if err := each(tenant, id, pos); err != nil {
				return done, err
			}
		}
		if progress != nil {
			progress(done)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return done, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}
