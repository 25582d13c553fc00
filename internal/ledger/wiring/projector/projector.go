// Package projector wires ProjectorFunction, every read model behind the
// events stream.
package projector

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/projection"
	"annals/internal/kit/sqsqueue"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/registry"
	"annals/internal/ledger/views"
)

// Wire builds the projector's handler from its environment.
var Wire = registry.Function("ProjectorFunction", build)

func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	accountsTable := v.Required(registry.EnvAccountsTable)
	historyTable := v.Required(registry.EnvHistoryTable)
	transfersTable := v.Required(registry.EnvTransfersTable)
	eventsTable := v.Required(registry.EnvEventsTable)
	queueURL := v.Required(registry.EnvDeadLetterQueue)
	db := dynamodb.NewFromConfig(cfg)
	log := v.Logger()
	events := eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithLogger(log))
	dead := projection.NewDeadLetters(sqsqueue.New(sqs.NewFromConfig(cfg), queueURL))
	return projection.NewHandler(dead, log,
		views.NewAccounts(views.NewDynamoAccounts(db, accountsTable), events, dead, log),
		views.NewHistory(views.NewDynamoHistory(db, historyTable), events, dead, log),
		views.NewTransfers(views.NewDynamoTransfers(db, transfersTable), events, dead, log),
	).Handle, nil
}
