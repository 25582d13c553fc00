package queryapi_test

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/lambdatest"
)

// The built function, under the Lambda Runtime Interface Emulator (what
// `sam local invoke` runs inside its container), against moto: each payload
// in events/query gets the same answer as from the handler in memory. The
// payloads only read, so they share one set of tables and one function.
func TestPayloadsThroughTheBuiltFunction(t *testing.T) {
	bootstrap := lambdatest.Build(t, "QueryFunction")
	db := awstest.DynamoDB(t)
	eventsTable := awstest.Table(t, db, "EventsTable")
	accountsTable := awstest.Table(t, db, "AccountsTable")
	historyTable := awstest.Table(t, db, "HistoryTable")
	seedDemo(t, eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithClock(demoClock()), eventstore.WithIDs(newID)),
		views.NewDynamoAccounts(db, accountsTable), views.NewDynamoHistory(db, historyTable))
	fn := lambdatest.Start(t, bootstrap, map[string]string{
		"EVENTS_TABLE":   eventsTable,
		"ACCOUNTS_TABLE": accountsTable,
		"HISTORY_TABLE":  historyTable,

		"TRANSFERS_TABLE": awstest.Table(t, db, "TransfersTable"),
	})
	for name, raw := range lambdatest.Payloads(t, "query", payloadExpectations) {
		t.Run(name, func(t *testing.T) {
			checkPayloadResponse(t, name, lambdatest.Call[events.APIGatewayV2HTTPResponse](t, fn, raw))
		})
	}
}
