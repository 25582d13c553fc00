package awstest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/localaws/provision"
)

// SQS returns an SQS client for the local server. Never long-poll it
// (WaitTimeSeconds > 0): moto is served one request at a time, so a long
// poll would hold every other test's requests.
func SQS(t testing.TB) *sqs.Client {
	t.Helper()
	return sqs.NewFromConfig(Config(t, "SQS"))
}

// Queue creates, for this test alone, the AWS::SQS::Queue that
// template.yaml declares under logicalID, and deletes it when the test
// ends. It returns the queue's URL.
func Queue(t testing.TB, logicalID string) string {
	t.Helper()
	c := SQS(t)
	url, err := provision.Queue(t.Context(), c, Template(t), logicalID, Name(t, logicalID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			t.Errorf("delete queue %s: %v", url, err)
		}
	})
	return url
}
