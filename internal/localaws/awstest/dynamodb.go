package awstest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

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
