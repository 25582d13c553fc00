package samtemplate

import (
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestProjectDeadLetterQueue(t *testing.T) {
	tpl := project(t)
	in, err := tpl.Queue("ProjectorDeadLetterQueue", "q1")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.QueueName) != "q1" {
		t.Errorf("name = %q, want q1", aws.ToString(in.QueueName))
	}
	want := map[string]string{"MessageRetentionPeriod": "1209600", "SqsManagedSseEnabled": "true"}
	if !maps.Equal(in.Attributes, want) {
		t.Errorf("attributes = %v, want %v", in.Attributes, want)
	}
	if _, err := tpl.Queue("EventsTable", "x"); err == nil {
		t.Error("Queue accepted a table")
	}
}

func TestQueueProperties(t *testing.T) {
	for _, c := range []struct {
		name, props string
		want        map[string]string
		wantErr     string
	}{
		{name: "none", props: "{}", want: nil},
		{name: "timeouts", props: "{VisibilityTimeout: 30, DelaySeconds: 5, ReceiveMessageWaitTimeSeconds: 0}",
			want: map[string]string{"VisibilityTimeout": "30", "DelaySeconds": "5", "ReceiveMessageWaitTimeSeconds": "0"}},
		{name: "sse off", props: "{SqsManagedSseEnabled: false, MaximumMessageSize: 1024}",
			want: map[string]string{"SqsManagedSseEnabled": "false", "MaximumMessageSize": "1024"}},
		{name: "fifo refused", props: "{FifoQueue: true}", wantErr: "FifoQueue"},
		{name: "redrive refused", props: "{RedrivePolicy: {maxReceiveCount: 3}}", wantErr: "RedrivePolicy"},
		{name: "not a number", props: "{MessageRetentionPeriod: soon}", wantErr: "properties"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tpl := load(t, "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: "+c.props+"\n")
			in, err := tpl.Queue("Q", "n")
			if failedAsWanted(t, err, c.wantErr) {
				return
			}
			if !maps.Equal(in.Attributes, c.want) || aws.ToString(in.QueueName) != "n" {
				t.Errorf("input = %+v, want attributes %v", in, c.want)
			}
		})
	}
}
