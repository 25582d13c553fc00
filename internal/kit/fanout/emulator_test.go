package fanout_test

import (
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"annals/internal/localaws/awstest"
	"annals/internal/localaws/lambdatest"
)

// The built function, under the Lambda Runtime Interface Emulator, against
// a moto Kinesis stream: events/fanout/commit-insert.json puts its commit on
// the stream and drops its snapshot.
func TestPayloadThroughTheBuiltFunction(t *testing.T) {
	t.Parallel()
	bootstrap := lambdatest.Build(t, "FanoutFunction")
	kstream := awstest.KinesisStream(t, "EventsStream")
	_, raw := goldenEvent(t)
	fn := lambdatest.Start(t, bootstrap, map[string]string{"STREAM_NAME": kstream})
	resp := lambdatest.Call[events.DynamoDBEventResponse](t, fn, raw)
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("response %+v, want an empty list of failures", resp)
	}
	got := awstest.ReadKinesis(t, kstream, 1)
	if len(got) != 1 {
		t.Fatalf("%d records on the stream, want 1", len(got))
	}
	checkGoldenEnvelope(t, aws.ToString(got[0].PartitionKey), got[0].Data)
	if !fn.LogsContain(`"msg":"fanout"`, 5*time.Second) {
		t.Errorf("no summary log line in\n%s", fn.Logs())
	}
}

// Without its stream name the function fails at start-up, not per event.
func TestMissingStreamNameFailsFast(t *testing.T) {
	t.Parallel()
	bootstrap := lambdatest.Build(t, "FanoutFunction")
	_, raw := goldenEvent(t)
	fn := lambdatest.Start(t, bootstrap, map[string]string{"STREAM_NAME": ""})
	out, err := fn.Invoke(t.Context(), raw)
	if err == nil {
		t.Fatalf("invoke without STREAM_NAME succeeded: %s", out)
	}
	if !fn.LogsContain("STREAM_NAME", 5*time.Second) {
		t.Errorf("the start-up error does not name STREAM_NAME:\n%s", fn.Logs())
	}
}

// The built function finds Kinesis through Kinesis's own endpoint
// variable, over AWS_ENDPOINT_URL, as any SDK program does: here the
// general one leads nowhere.
func TestBuiltFunctionTakesTheServicesOwnEndpoint(t *testing.T) {
	t.Parallel()
	bootstrap := lambdatest.Build(t, "FanoutFunction")
	kstream := awstest.KinesisStream(t, "EventsStream")
	_, raw := goldenEvent(t)
	fn := lambdatest.Start(t, bootstrap, map[string]string{
		"STREAM_NAME":              kstream,
		"AWS_ENDPOINT_URL":         "http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_KINESIS": aws.ToString(awstest.Kinesis(t).Options().BaseEndpoint),
	})
	resp := lambdatest.Call[events.DynamoDBEventResponse](t, fn, raw)
	if got := awstest.ReadKinesis(t, kstream, 1); len(got) != 1 {
		t.Fatalf("%d records on the stream, want 1 (response %+v)", len(got), resp)
	}
}

// Without the credentials Lambda gives it the function fails at start-up,
// saying so, rather than on its first call to AWS.
func TestMissingCredentialsFailFast(t *testing.T) {
	t.Parallel()
	bootstrap := lambdatest.Build(t, "FanoutFunction")
	_, raw := goldenEvent(t)
	fn := lambdatest.Start(t, bootstrap, map[string]string{"STREAM_NAME": "s", "AWS_SECRET_ACCESS_KEY": ""})
	out, err := fn.Invoke(t.Context(), raw)
	if err == nil {
		t.Fatalf("invoke without AWS_SECRET_ACCESS_KEY succeeded: %s", out)
	}
	if !fn.LogsContain("no credentials", 5*time.Second) {
		t.Errorf("the start-up error does not say the credentials are missing:\n%s", fn.Logs())
	}
}
