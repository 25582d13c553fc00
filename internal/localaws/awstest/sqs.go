package awstest

import (
	"testing"
	"time"

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

// ReadQueue receives the queue's messages, deleting each one read, until at
// least want have arrived (want 0: one receive), and returns their bodies.
// It fails the test after ten seconds without them. Each receive returns at
// once (see SQS).
func ReadQueue(t testing.TB, url string, want int) []string {
	t.Helper()
	c := SQS(t)
	ctx := t.Context()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages on %s after 10 s, want %d", len(got), url, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
