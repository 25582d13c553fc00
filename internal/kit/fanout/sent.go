package fanout

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// sent logs one commit that Kinesis stored: its stream and versions, the
// correlation and trace ids of the command behind it, where it landed
// (shard and sequence number), and how long after its commit, so that a
// command can be followed from its request to every consumer (annals
// trace).
func (h *Handler) sent(ctx context.Context, e entry, r types.PutRecordsResultEntry) {
	first, last := e.commit[0], e.commit[len(e.commit)-1]
	args := []any{
		"stream", e.key, "version", first.Version, "lastVersion", last.Version,
		"correlationId", first.CorrelationID,
		"shardId", aws.ToString(r.ShardId), "kinesisSequenceNumber", aws.ToString(r.SequenceNumber),
		"sinceCommitMs", time.Since(first.RecordedAt).Milliseconds(),
	}
	if first.TraceID != "" {
		args = append(args, "traceId", first.TraceID)
	}
	h.log.InfoContext(ctx, "fanout sent a commit", args...)
}
