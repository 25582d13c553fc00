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
	// Every view of the registry gets a table of its own.
	env := awstest.PersonalData(t)
	env["EVENTS_TABLE"] = eventsTable
	env["ARCHIVE_BUCKET"] = awstest.ArchiveBucket(t, "archive").Bucket()
	tables := map[string]string{}
	for _, v := range views.All {
		tables[v.Name] = awstest.Table(t, db, v.Table)
		env[v.Env] = tables[v.Name]
	}
	seedDemo(t, eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithClock(demoClock()), eventstore.WithIDs(newID)),
		views.NewDynamoAccounts(db, tables[views.AccountsView]), views.NewDynamoHistory(db, tables[views.HistoryView]))
	fn := lambdatest.Start(t, bootstrap, env)
	for name, raw := range lambdatest.Payloads(t, "query", payloadExpectations) {
		t.Run(name, func(t *testing.T) {
			checkPayloadResponse(t, name, lambdatest.Call[events.APIGatewayV2HTTPResponse](t, fn, raw))
		})
	}
}
