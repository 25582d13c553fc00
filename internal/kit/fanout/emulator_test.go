package fanout_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"annals/internal/kit/fanout"
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
	fn := lambdatest.Start(t, bootstrap, map[string]string{"STREAM_NAME": kstream, "SKIPPED_QUEUE_URL": awstest.Queue(t, "FanoutSkippedQueue")})
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

// The built function, wired from its manifest, records a commit it cannot
// send on the queue SKIPPED_QUEUE_URL names: the golden commit, its events
// lost, leaves a letter naming its stream and version.
func TestBuiltFunctionRecordsASkippedCommit(t *testing.T) {
	t.Parallel()
	bootstrap := lambdatest.Build(t, "FanoutFunction")
	queue := awstest.Queue(t, "FanoutSkippedQueue")
	_, raw := goldenEvent(t)
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	commit := ev["Records"].([]any)[0].(map[string]any)["dynamodb"].(map[string]any)["NewImage"].(map[string]any)
	delete(commit, "ev")
	broken, _ := json.Marshal(ev)
	fn := lambdatest.Start(t, bootstrap, map[string]string{"STREAM_NAME": awstest.KinesisStream(t, "EventsStream"), "SKIPPED_QUEUE_URL": queue})
	resp := lambdatest.Call[events.DynamoDBEventResponse](t, fn, broken)
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("response %+v: a recorded skip must not stop the batch", resp)
	}
	bodies := awstest.ReadQueue(t, queue, 1)
	var l fanout.Skipped
	if err := json.Unmarshal([]byte(bodies[0]), &l); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 1 || l.Stream != goldenKey || l.Version != 1 || l.Cause != fanout.CauseUndecodable {
		t.Errorf("letters %q, want one naming %s at 1", bodies, goldenKey)
	}
}

// Without its stream name, or its skipped-commits queue, the function
// fails at start-up, not per event.
func TestMissingVariablesFailFast(t *testing.T) {
	t.Parallel()
	bootstrap := lambdatest.Build(t, "FanoutFunction")
	_, raw := goldenEvent(t)
	for _, missing := range []string{"STREAM_NAME", "SKIPPED_QUEUE_URL"} {
		env := map[string]string{"STREAM_NAME": "s", "SKIPPED_QUEUE_URL": "q"}
		env[missing] = ""
		fn := lambdatest.Start(t, bootstrap, env)
		out, err := fn.Invoke(t.Context(), raw)
		if err == nil {
			t.Fatalf("invoke without %s succeeded: %s", missing, out)
		}
		if !fn.LogsContain(missing, 5*time.Second) {
			t.Errorf("the start-up error does not name %s:\n%s", missing, fn.Logs())
		}
		fn.Stop()
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
		"SKIPPED_QUEUE_URL":        "http://127.0.0.1:1/q",
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
	fn := lambdatest.Start(t, bootstrap, map[string]string{"STREAM_NAME": "s", "SKIPPED_QUEUE_URL": "q", "AWS_SECRET_ACCESS_KEY": ""})
	out, err := fn.Invoke(t.Context(), raw)
	if err == nil {
		t.Fatalf("invoke without AWS_SECRET_ACCESS_KEY succeeded: %s", out)
	}
	if !fn.LogsContain("no credentials", 5*time.Second) {
		t.Errorf("the start-up error does not say the credentials are missing:\n%s", fn.Logs())
	}
}
