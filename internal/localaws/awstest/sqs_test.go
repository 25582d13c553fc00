package awstest_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"annals/internal/localaws/awstest"
)

// Queue creates the template's queue with its attributes, and it carries
// messages (received without long polling).
func TestQueueFromTheTemplate(t *testing.T) {
	t.Parallel()
	url := awstest.Queue(t, "ProjectorDeadLetterQueue")
	c := awstest.SQS(t)
	ctx := t.Context()
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameMessageRetentionPeriod}})
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs.Attributes["MessageRetentionPeriod"]; got != "1209600" {
		t.Errorf("MessageRetentionPeriod = %q, want 1209600", got)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("hello")}); err != nil {
		t.Fatal(err)
	}
	if got := awstest.ReadQueue(t, url, 1); len(got) != 1 || got[0] != "hello" {
		t.Errorf("received %q, want the message sent", got)
	}
}
