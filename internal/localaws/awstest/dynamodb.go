package awstest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/localaws/provision"
)

// DynamoDB returns a DynamoDB client for the local server.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	return dynamodb.NewFromConfig(Config(t, "DYNAMODB"))
}

// Table creates, for this test alone, the AWS::DynamoDB::Table that
// template.yaml declares under logicalID, and deletes it when the test ends.
// It returns the table's name.
func Table(t testing.TB, db *dynamodb.Client, logicalID string) string {
	t.Helper()
	name := Name(t, logicalID)
	if err := provision.Table(t.Context(), db, Template(t), logicalID, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	return name
}

// PutItems writes items into table, 25 to a BatchWriteItem, sending again
// what the server leaves unprocessed: a fixture built elsewhere, byte for
// byte, without a round trip per item.
func PutItems(t testing.TB, db *dynamodb.Client, table string, items []map[string]types.AttributeValue) {
	t.Helper()
	for len(items) > 0 {
		n := min(len(items), 25)
		puts := make([]types.WriteRequest, n)
		for i, it := range items[:n] {
			puts[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
		}
		items = items[n:]
		for pending := map[string][]types.WriteRequest{table: puts}; len(pending) > 0; {
			out, err := db.BatchWriteItem(t.Context(), &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				t.Fatalf("put items into %s: %v", table, err)
			}
			pending = out.UnprocessedItems
		}
	}
}
