// Projector is the Lambda that keeps the query tables current from the
// events stream.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/awsconfig"
	"annals/internal/eventstore"
	"annals/internal/eventstore/dynamostore"
	"annals/internal/projection"
)

func main() {
	h, err := wire(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func wire(ctx context.Context) (*projection.Handler, error) {
	var env awsconfig.Env
	accountsTable := env.Required("ACCOUNTS_TABLE")
	eventsTable := env.Required("EVENTS_TABLE")
	queueURL := env.Required("DEAD_LETTER_QUEUE_URL")
	if err := env.Err(); err != nil {
		return nil, err
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	db := dynamodb.NewFromConfig(cfg)
	log := awsconfig.Logger()
	events := eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithLogger(log))
	dead := projection.NewDeadLetters(sqs.NewFromConfig(cfg), queueURL)
	accounts := projection.NewAccounts(projection.NewDynamoAccounts(db, accountsTable), events, dead, log)
	return projection.NewHandler(dead, log, accounts), nil
}
