// Package projector wires ProjectorFunction, every read model behind the
// events stream.
package projector

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/eventstore"
	"annals/internal/eventstore/dynamostore"
	"annals/internal/projection"
	"annals/internal/sqsqueue"
	"annals/internal/wiring"
)

// Wire builds the projector's handler from its environment.
var Wire = wiring.Function("ProjectorFunction", build)

func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	accountsTable := v.Required(wiring.EnvAccountsTable)
	historyTable := v.Required(wiring.EnvHistoryTable)
	transfersTable := v.Required(wiring.EnvTransfersTable)
	eventsTable := v.Required(wiring.EnvEventsTable)
	queueURL := v.Required(wiring.EnvDeadLetterQueue)
	db := dynamodb.NewFromConfig(cfg)
	log := v.Logger()
	events := eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithLogger(log))
	dead := projection.NewDeadLetters(sqsqueue.New(sqs.NewFromConfig(cfg), queueURL))
	return projection.NewHandler(dead, log,
		projection.NewAccounts(projection.NewDynamoAccounts(db, accountsTable), events, dead, log),
		projection.NewHistory(projection.NewDynamoHistory(db, historyTable), events, dead, log),
		projection.NewTransfers(projection.NewDynamoTransfers(db, transfersTable), events, dead, log),
	).Handle, nil
}
