package localsources

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/localaws/samtemplate"
)

// FailureRecord is what the OnFailure queue receives for a batch given up
// on, shaped like the invocation record Lambda sends to a stream event
// source's destination: it names the records, not their content, which a
// redrive reads back from the stream or the table.
type FailureRecord struct {
	Version         string              `json:"version"`
	Timestamp       time.Time           `json:"timestamp"`
	RequestContext  FailureContext      `json:"requestContext"`
	Reason          string              `json:"reason"`
	DDBStreamBatch  *FailureBatchInfo   `json:"DDBStreamBatchInfo,omitempty"`
	KinesisBatch    *FailureBatchInfo   `json:"KinesisBatchInfo,omitempty"`
	ResponseContext FailureResponseInfo `json:"responseContext"`
}

// FailureContext names the function and why the batch was given up on.
type FailureContext struct {
	Function               string `json:"function"` // its logical id
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// FailureResponseInfo tells whether the function failed or reported items.
type FailureResponseInfo struct {
	FunctionError string `json:"functionError,omitempty"`
}

// FailureBatchInfo locates the records of the batch.
type FailureBatchInfo struct {
	ShardID             string `json:"shardId"`
	StartSequenceNumber string `json:"startSequenceNumber"`
	EndSequenceNumber   string `json:"endSequenceNumber"`
	BatchSize           int    `json:"batchSize"`
	StreamArn           string `json:"streamArn"`
}

// giveUp sends the failure record of the batch to the OnFailure queue, or
// logs it when the source has none (Lambda then discards the batch).
func (s *source) giveUp(ctx context.Context, sh *shard, batch []record, attempts int, reason string, functionError bool, log *slog.Logger) error {
	info := &FailureBatchInfo{
		ShardID:             sh.r.id(),
		StartSequenceNumber: batch[0].seq,
		EndSequenceNumber:   batch[len(batch)-1].seq,
		BatchSize:           len(batch),
		StreamArn:           s.arn,
	}
	rec := FailureRecord{
		Version:        "1.0",
		Timestamp:      time.Now().UTC(),
		RequestContext: FailureContext{Function: s.es.Function, Condition: "RetryAttemptsExhausted", ApproximateInvokeCount: attempts},
		Reason:         reason,
	}
	if functionError {
		rec.ResponseContext.FunctionError = "Unhandled"
	}
	if s.es.Kind == samtemplate.KindKinesis {
		rec.KinesisBatch = info
	} else {
		rec.DDBStreamBatch = info
	}
	log.ErrorContext(ctx, "local event source gave up on a batch", "function", s.es.Function, "shard", info.ShardID,
		"firstSequenceNumber", info.StartSequenceNumber, "lastSequenceNumber", info.EndSequenceNumber,
		"records", info.BatchSize, "attempts", attempts, "reason", reason, "onFailure", s.queue)
	if s.queue == "" {
		return nil
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	url, err := s.cfg.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(s.queue)})
	if err != nil {
		return fmt.Errorf("on-failure queue %s: %w", s.queue, err)
	}
	if _, err := s.cfg.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String(string(body))}); err != nil {
		return fmt.Errorf("send failure record to %s: %w", s.queue, err)
	}
	return nil
}
