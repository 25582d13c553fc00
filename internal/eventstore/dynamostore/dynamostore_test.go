package dynamostore_test

import (
	"testing"

	"annals/internal/awstest"
	"annals/internal/eventstore"
	"annals/internal/eventstore/dynamostore"
	"annals/internal/eventstore/storetest"
)

func TestDynamoDBBackendContract(t *testing.T) {
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	storetest.Run(t, func(*testing.T) eventstore.Backend { return dynamostore.New(db, table) })
}
