package samtemplate

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestProjectEventsStream(t *testing.T) {
	tpl := project(t)
	in, err := tpl.Stream("EventsStream", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.StreamName) != "s1" {
		t.Errorf("name = %q, want s1", aws.ToString(in.StreamName))
	}
	// By the parameters' defaults: one provisioned shard.
	if in.StreamModeDetails == nil || in.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
		t.Errorf("mode = %+v, want PROVISIONED", in.StreamModeDetails)
	}
	if in.ShardCount == nil || *in.ShardCount != 1 {
		t.Errorf("shard count = %v, want 1", in.ShardCount)
	}
	if _, err := tpl.Stream("EventsTable", "x"); err == nil {
		t.Error("Stream accepted a table")
	}
}

func TestStreamModes(t *testing.T) {
	for _, c := range []struct {
		name, props string
		wantErr     string
		wantShards  int32
	}{
		{name: "provisioned", props: "ShardCount: 3", wantShards: 3},
		{name: "provisioned explicit", props: "StreamModeDetails: {StreamMode: PROVISIONED}\n      ShardCount: 2", wantShards: 2},
		{name: "provisioned without shards", props: "StreamModeDetails: {StreamMode: PROVISIONED}", wantErr: "ShardCount"},
		{name: "on demand with shards", props: "StreamModeDetails: {StreamMode: ON_DEMAND}\n      ShardCount: 2", wantErr: "no ShardCount"},
		{name: "unknown mode", props: "StreamModeDetails: {StreamMode: SOMETIMES}", wantErr: "unknown StreamMode"},
		{name: "unknown property", props: "ShardCount: 1\n      ShardLevelMetrics: [x]", wantErr: "ShardLevelMetrics"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tpl := load(t, "Resources:\n  S:\n    Type: AWS::Kinesis::Stream\n    Properties:\n      "+c.props+"\n")
			in, err := tpl.Stream("S", "n")
			if failedAsWanted(t, err, c.wantErr) {
				return
			}
			if aws.ToInt32(in.ShardCount) != c.wantShards || in.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
				t.Errorf("shards = %d, mode = %+v; want %d, PROVISIONED", aws.ToInt32(in.ShardCount), in.StreamModeDetails, c.wantShards)
			}
		})
	}
}

// The mode may follow a parameter, and the shard count drop out with
// AWS::NoValue when it is ON_DEMAND: local runs take the defaults.
func TestStreamModeFromParameters(t *testing.T) {
	for _, c := range []struct {
		mode       string
		want       types.StreamMode
		wantShards *int32
	}{
		{"PROVISIONED", types.StreamModeProvisioned, aws.Int32(2)},
		{"ON_DEMAND", types.StreamModeOnDemand, nil},
	} {
		tpl := load(t, `Parameters:
  Mode: {Type: String, Default: `+c.mode+`}
  Shards: {Type: Number, Default: 2}
Conditions:
  OnDemand: !Equals [!Ref Mode, ON_DEMAND]
Resources:
  S:
    Type: AWS::Kinesis::Stream
    Properties:
      StreamModeDetails: {StreamMode: !Ref Mode}
      ShardCount: !If [OnDemand, !Ref AWS::NoValue, !Ref Shards]
`)
		in, err := tpl.Stream("S", "n")
		if err != nil {
			t.Fatalf("%s: %v", c.mode, err)
		}
		if in.StreamModeDetails.StreamMode != c.want || aws.ToInt32(in.ShardCount) != aws.ToInt32(c.wantShards) || (in.ShardCount == nil) != (c.wantShards == nil) {
			t.Errorf("%s: mode %s, shards %v; want %s, %v", c.mode, in.StreamModeDetails.StreamMode, in.ShardCount, c.want, c.wantShards)
		}
	}
}
