// Package sqsqueue sends messages to one SQS queue. It keeps the SQS client
// out of the packages that only need somewhere to send a message (the
// projection's dead letters), so that a function that never sends one does
// not link the client.
package sqsqueue

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Client is the part of the SQS client a Queue uses.
type Client interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Queue is one queue, by URL.
type Queue struct {
	client Client
	url    string
}

// New returns the queue at url.
func New(c Client, url string) *Queue { return &Queue{client: c, url: url} }

// Send puts one message on the queue.
func (q *Queue) Send(ctx context.Context, body string) error {
	if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(body)}); err != nil {
		return fmt.Errorf("send to %s: %w", q.url, err)
	}
	return nil
}
