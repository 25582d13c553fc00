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
	// A table per test: the suite's scans read the whole table.
	storetest.Run(t, func(t *testing.T) eventstore.Backend { return dynamostore.New(db, awstest.Table(t, db, "EventsTable")) })
}

func TestDynamoDBBackendArchive(t *testing.T) {
	db := awstest.DynamoDB(t)
	storetest.RunArchive(t,
		func(t *testing.T) eventstore.Backend { return dynamostore.New(db, awstest.Table(t, db, "EventsTable")) },
		func(t *testing.T) eventstore.ArchiveObjects { return awstest.ArchiveBucket(t, "archive") },
		// Every crash point and every version probed is requests to
		// moto: the memory backend's run goes through all of them.
		storetest.Representative)
}
