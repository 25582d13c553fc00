package dynamostore_test

import (
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/localaws/awstest"
)

func TestDynamoDBBackendContract(t *testing.T) {
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	storetest.Run(t, func(*testing.T) eventstore.Backend { return dynamostore.New(db, table) })
}
