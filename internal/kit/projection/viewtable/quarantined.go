package viewtable

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection"
)

// Scanner is the part of the DynamoDB client that Quarantined uses.
type Scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Quarantine is a stream a view stopped at a poison event.
type Quarantine struct {
	// Key is the stream's partition key in the view's table: tenant#id.
	Key      string
	Position projection.Position
}

// Quarantined lists the streams quarantined in a view's table. It scans
// the whole table, every item read and paid for, so it is for a look at a
// small table (the local stack's status), never for a request's path; a
// deployed stack counts its quarantines with an alarm instead.
func Quarantined(ctx context.Context, db Scanner, table string) ([]Quarantine, error) {
	in := &dynamodb.ScanInput{
		TableName:                aws.String(table),
		FilterExpression:         aws.String("#q = :t"),
		ExpressionAttributeNames: map[string]string{"#q": "quarantined"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberBOOL{Value: true},
		},
		ConsistentRead: aws.Bool(true),
	}
	var out []Quarantine
	for {
		page, err := db.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("scan %s for quarantines: %w", table, err)
		}
		for _, it := range page.Items {
			a := Read(it)
			q := Quarantine{Key: a.S("pk"), Position: a.Position()}
			if err := a.Err(); err != nil {
				return nil, fmt.Errorf("scan %s for quarantines: %s: %w", table, q.Key, err)
			}
			out = append(out, q)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}
