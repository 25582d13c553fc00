package samtemplate

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestProjectEventsStream(t *testing.T) {
	tpl, err := LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	in, err := tpl.Stream("EventsStream", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.StreamName) != "s1" {
		t.Errorf("name = %q, want s1", aws.ToString(in.StreamName))
	}
	if in.StreamModeDetails == nil || in.StreamModeDetails.StreamMode != types.StreamModeOnDemand {
		t.Errorf("mode = %+v, want ON_DEMAND", in.StreamModeDetails)
	}
	if in.ShardCount != nil {
		t.Errorf("an on-demand stream has shard count %d", *in.ShardCount)
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
			tpl, err := Load(writeTemplate(t, "Resources:\n  S:\n    Type: AWS::Kinesis::Stream\n    Properties:\n      "+c.props+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			in, err := tpl.Stream("S", "n")
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToInt32(in.ShardCount) != c.wantShards || in.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
				t.Errorf("shards = %d, mode = %+v; want %d, PROVISIONED", aws.ToInt32(in.ShardCount), in.StreamModeDetails, c.wantShards)
			}
		})
	}
}
