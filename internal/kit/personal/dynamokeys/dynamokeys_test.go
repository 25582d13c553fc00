package dynamokeys_test

import (
	"testing"

	"annals/internal/kit/personal"
	"annals/internal/kit/personal/dynamokeys"
	"annals/internal/kit/personal/personaltest"
	"annals/internal/localaws/awstest"
)

func TestDynamoDBKeysContract(t *testing.T) {
	db, kms := awstest.DynamoDB(t), awstest.KMS(t)
	key := awstest.Key(t, kms, "PersonalDataKey")
	// A table per test: the cases' subjects and tenants overlap.
	personaltest.Run(t, func(t *testing.T) personal.Keys {
		return dynamokeys.New(db, kms, awstest.Table(t, db, "SubjectKeysTable"), key)
	})
}
