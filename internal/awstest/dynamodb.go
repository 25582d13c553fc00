package awstest

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
	def, err := Template(t).Table(logicalID, Name(t, logicalID))
	if err != nil {
		t.Fatal(err)
	}
	// Deletion protection guards the deployed table; a test's table is
	// throwaway and must be deletable by its cleanup.
	def.Create.DeletionProtectionEnabled = aws.Bool(false)
	name := aws.ToString(def.Create.TableName)

	ctx := t.Context()
	if _, err := db.CreateTable(ctx, def.Create); err != nil {
		t.Fatalf("create table %s (%s): %v", name, logicalID, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		t.Fatalf("table %s did not become active: %v", name, err)
	}
	if def.TTLAttribute != "" {
		_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{
				AttributeName: aws.String(def.TTLAttribute),
				Enabled:       aws.Bool(true),
			},
		})
		if err != nil {
			t.Fatalf("enable TTL on %s: %v", name, err)
		}
	}
	return name
}
