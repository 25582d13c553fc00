package awstest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"annals/internal/kit/awsconfig"
	"annals/internal/localaws/provision"
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
		o.HTTPClient = awsconfig.SafeBodies(&http.Client{Transport: w})
		o.Retryer = retry.NewStandard(FastRetries(attempts))
	})
}

// KinesisStream creates, for this test alone, the AWS::Kinesis::Stream that
// template.yaml declares under logicalID, waits until it is active, and
// deletes it when the test ends. It returns the stream's name.
func KinesisStream(t testing.TB, logicalID string) string {
	t.Helper()
	name := Name(t, logicalID)
	k := Kinesis(t)
	if err := provision.Stream(t.Context(), k, Template(t), logicalID, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		_, err := k.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(true)})
		if err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	return name
}

// ReadKinesis polls every shard of the stream from its start until at
// least want records have arrived or ten seconds have passed.
func ReadKinesis(t testing.TB, name string, want int) []ktypes.Record {
	t.Helper()
	k := Kinesis(t)
	ctx := t.Context()
	shards, err := k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	iters := map[string]*string{}
	for _, sh := range shards.Shards {
		it, err := k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(name), ShardId: sh.ShardId, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		iters[aws.ToString(sh.ShardId)] = it.ShardIterator
	}
	var got []ktypes.Record
	deadline := time.Now().Add(10 * time.Second)
	for {
		for id, iter := range iters {
			if iter == nil {
				continue
			}
			out, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, out.Records...)
			iters[id] = out.NextShardIterator
		}
		if len(got) >= want {
			return got
		}
		if time.Now().After(deadline) {
			var keys []string
			for _, r := range got {
				keys = append(keys, aws.ToString(r.PartitionKey))
			}
			t.Fatalf("%d records on %s after 10 s, want %d: %s", len(got), name, want, strings.Join(keys, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
