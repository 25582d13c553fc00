package localsources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"

	"annals/internal/kit/fanout"
)

// dynamoOps reads a table's DynamoDB stream.
type dynamoOps struct {
	db      DynamoDB
	streams Streams
	table   string
	start   string
}

func (o *dynamoOps) maxLimit() int { return 1000 } // GetRecords' own limit

func (o *dynamoOps) open(ctx context.Context) (string, []reader, error) {
	d, err := o.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.table)})
	if err != nil {
		return "", nil, fmt.Errorf("table %s: %w", o.table, err)
	}
	arn := aws.ToString(d.Table.LatestStreamArn)
	if arn == "" {
		return "", nil, fmt.Errorf("table %s has no stream", o.table)
	}
	var readers []reader
	var after *string
	for {
		desc, err := o.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn), ExclusiveStartShardId: after})
		if err != nil {
			return "", nil, fmt.Errorf("stream of %s: %w", o.table, err)
		}
		for _, sh := range desc.StreamDescription.Shards {
			it, err := o.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: streamstypes.ShardIteratorType(o.start),
			})
			if err != nil {
				return "", nil, fmt.Errorf("iterator of shard %s: %w", aws.ToString(sh.ShardId), err)
			}
			readers = append(readers, &dynamoShard{streams: o.streams, arn: arn, shard: aws.ToString(sh.ShardId), start: o.start, iter: it.ShardIterator})
		}
		after = desc.StreamDescription.LastEvaluatedShardId
		if after == nil {
			return arn, readers, nil
		}
	}
}

func (o *dynamoOps) event(recs []record) any {
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, len(recs))}
	for i, r := range recs {
		ev.Records[i] = r.event.(events.DynamoDBEventRecord)
	}
	return ev
}

type dynamoShard struct {
	streams Streams
	arn     string
	shard   string
	start   string  // the iterator type the shard was opened with
	iter    *string // the next iterator
	last    string  // the sequence number of the last record read
}

func (s *dynamoShard) id() string { return s.shard }

func (s *dynamoShard) read(ctx context.Context, limit int) ([]record, []any, int64, bool, error) {
	if s.iter == nil {
		return nil, nil, 0, true, nil
	}
	out, err := s.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iter, Limit: aws.Int32(int32(limit))})
	if expired(err) {
		// An iterator lives 15 minutes (a stack that was suspended, say):
		// go on from the last record read.
		if err = s.renew(ctx); err == nil {
			out, err = s.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iter, Limit: aws.Int32(int32(limit))})
		}
	}
	if err != nil {
		return nil, nil, 0, false, fmt.Errorf("get records: %w", err)
	}
	recs := make([]record, 0, len(out.Records))
	docs := make([]any, 0, len(out.Records))
	for _, r := range out.Records {
		er, err := fanout.EventRecord(r)
		if err != nil {
			return nil, nil, 0, false, err
		}
		er.EventSourceArn = s.arn
		// Lambda filters the record as it would deliver it.
		doc, err := jsonDoc(er)
		if err != nil {
			return nil, nil, 0, false, fmt.Errorf("record %s: %w", er.EventID, err)
		}
		recs = append(recs, record{seq: er.Change.SequenceNumber, event: er})
		docs = append(docs, doc)
		s.last = er.Change.SequenceNumber
	}
	s.iter = out.NextShardIterator
	return recs, docs, 0, s.iter == nil, nil
}

// renew gets a new iterator after the last record read, or at the shard's
// starting position if none was.
func (s *dynamoShard) renew(ctx context.Context) error {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(s.arn), ShardId: aws.String(s.shard), ShardIteratorType: streamstypes.ShardIteratorType(s.start)}
	if s.last != "" {
		in.ShardIteratorType, in.SequenceNumber = streamstypes.ShardIteratorTypeAfterSequenceNumber, aws.String(s.last)
	}
	it, err := s.streams.GetShardIterator(ctx, in)
	if err != nil {
		return fmt.Errorf("renew the iterator of shard %s: %w", s.shard, err)
	}
	s.iter = it.ShardIterator
	return nil
}

// expired reports whether err is an iterator that outlived its lifetime.
func expired(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ExpiredIteratorException"
}

// jsonDoc is v's JSON form as generic values.
func jsonDoc(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc any
	err = json.Unmarshal(b, &doc)
	return doc, err
}
