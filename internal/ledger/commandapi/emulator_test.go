package commandapi_test

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/lambdatest"
)

// The built function, under the Lambda Runtime Interface Emulator (what
// `sam local invoke` runs inside its container), against moto: each payload
// in events/command gets the same answer as from the handler in memory.
func TestPayloadsThroughTheBuiltFunction(t *testing.T) {
	bootstrap := lambdatest.Build(t, "CommandFunction")
	db := awstest.DynamoDB(t)
	for name, raw := range lambdatest.Payloads(t, "command", payloadExpectations) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			eventsTable := awstest.Table(t, db, "EventsTable")
			seedDemo(t, eventstore.New(dynamostore.New(db, eventsTable)))
			env := awstest.PersonalData(t)
			env["EVENTS_TABLE"] = eventsTable
			fn := lambdatest.Start(t, bootstrap, env)
			checkPayloadResponse(t, name, lambdatest.Call[events.APIGatewayV2HTTPResponse](t, fn, raw))
		})
	}
}
