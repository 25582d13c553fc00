package commandapi_test

import (
	"testing"

	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/ledger/commandapi"
	"annals/internal/localaws/awstest"
)

// onDynamoDB runs a handler test against the real tables on moto instead
// of the in-memory store.
func onDynamoDB(t *testing.T) option {
	db := awstest.DynamoDB(t)
	events := awstest.Table(t, db, "EventsTable")
	return func(c *commandapi.Config, f *fixture) {
		f.backend = dynamostore.New(db, events)
	}
}

func TestOnDynamoDB(t *testing.T) {
	for name, test := range map[string]func(*testing.T, ...option){
		"AccountLifecycle":         testAccountLifecycle,
		"BadRequests":              testBadRequests,
		"IfMatch":                  testIfMatch,
		"RacingDepositsAllLand":    testRacingDepositsAllLand,
		"IdempotencyKey":           testIdempotencyKey,
		"IdempotencyKeyInFlight":   testIdempotencyKeyInFlight,
		"ConcurrentRequestsOneKey": testConcurrentRequestsWithOneKeyApplyOnce,
		"RetryAfterALostResponse":  testRetryAfterALostResponse,
		"EventsCarryTheirMetadata": testEventsCarryTheirMetadata,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, onDynamoDB(t))
		})
	}
}
