package awstest_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/localaws/awstest"
)

// What a transaction and a Query cost the local server, on an empty events
// table and on one of 100,000 items: with the launcher's corrections
// (docs/adr/0005) the cost does not grow with the table.
func BenchmarkLocalServerAsTheTableGrows(b *testing.B) {
	db := awstest.DynamoDB(b)
	for _, size := range []int{0, 100_000} {
		table := awstest.Table(b, db, "EventsTable")
		fill(b, db, table, size)
		// A partition of 60 commits, as an account stream has.
		for v := range 60 {
			if _, err := db.PutItem(b.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("hot", v+1, "data", fmt.Sprint(v))}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("TransactWriteItems/items=%d", size), func(b *testing.B) {
			for range b.N {
				n := seq.Add(1)
				_, err := db.TransactWriteItems(b.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					putNew(table, item(fmt.Sprint("tx-", n), 1)),
					putNew(table, item(fmt.Sprint("guard-", n), 0)),
				}})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("RefusedTransactWriteItems/items=%d", size), func(b *testing.B) {
			for range b.N {
				_, err := db.TransactWriteItems(b.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					putNew(table, item(fmt.Sprint("refused-", seq.Add(1)), 1)),
					putNew(table, item("hot", 1)),
				}})
				if err == nil {
					b.Fatal("the transaction was not refused")
				}
			}
		})
		b.Run(fmt.Sprintf("Query/items=%d", size), func(b *testing.B) {
			for range b.N {
				out, err := db.Query(b.Context(), &dynamodb.QueryInput{
					TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "hot"}},
					ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(10), ConsistentRead: aws.Bool(true),
				})
				if err != nil || len(out.Items) != 10 {
					b.Fatalf("query: %d items, %v", len(out.Items), err)
				}
			}
		})
	}
}

var seq atomic.Int64

// fill writes n small items in batches of 25.
func fill(b *testing.B, db *dynamodb.Client, table string, n int) {
	b.Helper()
	items := make([]map[string]types.AttributeValue, n)
	for i := range items {
		items[i] = item(fmt.Sprintf("fill-%d", i), 1, "data", "x")
	}
	awstest.PutItems(b, db, table, items)
}
