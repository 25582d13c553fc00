package awstest

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Kinesis returns a Kinesis client for the local server.
func Kinesis(t testing.TB) *kinesis.Client {
	t.Helper()
	return kinesis.NewFromConfig(Config(t, "KINESIS"))
}

// KinesisOver returns a Kinesis client whose requests go through w.
func KinesisOver(t testing.TB, w *Wire, attempts int) *kinesis.Client {
	t.Helper()
	return kinesis.NewFromConfig(Config(t, "KINESIS"), func(o *kinesis.Options) {
		o.HTTPClient = &http.Client{Transport: w}
		o.Retryer = retry.NewStandard(FastRetries(attempts))
	})
}

// KinesisStream creates, for this test alone, the AWS::Kinesis::Stream that
// template.yaml declares under logicalID, waits until it is active, and
// deletes it when the test ends. It returns the stream's name.
func KinesisStream(t testing.TB, logicalID string) string {
	t.Helper()
	in, err := Template(t).Stream(logicalID, Name(t, logicalID))
	if err != nil {
		t.Fatal(err)
	}
	name := aws.ToString(in.StreamName)
	k := Kinesis(t)
	ctx := t.Context()
	if _, err := k.CreateStream(ctx, in); err != nil {
		t.Fatalf("create stream %s (%s): %v", name, logicalID, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		_, err := k.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(true)})
		if err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	waiter := kinesis.NewStreamExistsWaiter(k, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	if err := waiter.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
		t.Fatalf("stream %s did not become active: %v", name, err)
	}
	return name
}
