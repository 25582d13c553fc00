// Projector is the Lambda that keeps the query tables current from the
// events stream.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/awsconfig"
	"annals/internal/eventstore"
	"annals/internal/eventstore/dynamostore"
	"annals/internal/projection"
)

func main() {
	awsconfig.Start(func(_ context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
		accountsTable := env.Required("ACCOUNTS_TABLE")
		historyTable := env.Required("HISTORY_TABLE")
		eventsTable := env.Required("EVENTS_TABLE")
		queueURL := env.Required("DEAD_LETTER_QUEUE_URL")
		db := dynamodb.NewFromConfig(cfg)
		log := awsconfig.Logger()
		events := eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithLogger(log))
		dead := projection.NewDeadLetters(sqs.NewFromConfig(cfg), queueURL)
		return projection.NewHandler(dead, log,
			projection.NewAccounts(projection.NewDynamoAccounts(db, accountsTable), events, dead, log),
			projection.NewHistory(projection.NewDynamoHistory(db, historyTable), events, dead, log),
		).Handle, nil
	})
}
