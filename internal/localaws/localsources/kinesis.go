package localsources

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// kinesisOps reads every shard of a Kinesis stream.
type kinesisOps struct {
	k      Kinesis
	stream string
	start  string
}

func (o *kinesisOps) maxLimit() int { return 10000 } // GetRecords' own limit

func (o *kinesisOps) open(ctx context.Context) (string, []reader, error) {
	sum, err := o.k.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(o.stream)})
	if err != nil {
		return "", nil, fmt.Errorf("stream %s: %w", o.stream, err)
	}
	arn := aws.ToString(sum.StreamDescriptionSummary.StreamARN)
	var readers []reader
	in := &kinesis.ListShardsInput{StreamName: aws.String(o.stream)}
	for {
		out, err := o.k.ListShards(ctx, in)
		if err != nil {
			return "", nil, fmt.Errorf("shards of %s: %w", o.stream, err)
		}
		for _, sh := range out.Shards {
			it, err := o.k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
				StreamName: aws.String(o.stream), ShardId: sh.ShardId, ShardIteratorType: ktypes.ShardIteratorType(o.start),
			})
			if err != nil {
				return "", nil, fmt.Errorf("iterator of shard %s: %w", aws.ToString(sh.ShardId), err)
			}
			readers = append(readers, &kinesisShard{k: o.k, arn: arn, stream: o.stream, shard: aws.ToString(sh.ShardId), start: o.start, iter: it.ShardIterator})
		}
		if out.NextToken == nil {
			return arn, readers, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func (o *kinesisOps) event(recs []record) any {
	ev := events.KinesisEvent{Records: make([]events.KinesisEventRecord, len(recs))}
	for i, r := range recs {
		ev.Records[i] = r.event.(events.KinesisEventRecord)
	}
	return ev
}

type kinesisShard struct {
	k      Kinesis
	arn    string
	stream string
	shard  string
	start  string  // the iterator type the shard was opened with
	iter   *string // the next iterator
	last   string  // the sequence number of the last record read
}

func (s *kinesisShard) id() string { return s.shard }

func (s *kinesisShard) read(ctx context.Context, limit int) ([]record, []any, int64, bool, error) {
	if s.iter == nil {
		return nil, nil, 0, true, nil
	}
	out, err := s.k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: s.iter, Limit: aws.Int32(int32(limit))})
	if expired(err) {
		// A Kinesis iterator lives 5 minutes: go on from the last record.
		if err = s.renew(ctx); err == nil {
			out, err = s.k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: s.iter, Limit: aws.Int32(int32(limit))})
		}
	}
	if err != nil {
		return nil, nil, 0, false, fmt.Errorf("get records: %w", err)
	}
	recs := make([]record, 0, len(out.Records))
	docs := make([]any, 0, len(out.Records))
	region := regionOf(s.arn)
	for _, r := range out.Records {
		seq := aws.ToString(r.SequenceNumber)
		kr := events.KinesisRecord{
			Data:                 r.Data,
			EncryptionType:       string(r.EncryptionType),
			PartitionKey:         aws.ToString(r.PartitionKey),
			SequenceNumber:       seq,
			KinesisSchemaVersion: "1.0",
		}
		if r.ApproximateArrivalTimestamp != nil {
			kr.ApproximateArrivalTimestamp = events.SecondsEpochTime{Time: *r.ApproximateArrivalTimestamp}
		}
		er := events.KinesisEventRecord{
			AwsRegion:      region,
			EventID:        s.shard + ":" + seq,
			EventName:      "aws:kinesis:record",
			EventSource:    "aws:kinesis",
			EventSourceArn: s.arn,
			EventVersion:   "1.0",
			Kinesis:        kr,
		}
		doc, err := kinesisDoc(kr)
		if err != nil {
			return nil, nil, 0, false, fmt.Errorf("record %s: %w", seq, err)
		}
		recs = append(recs, record{seq: seq, event: er})
		docs = append(docs, doc)
		s.last = seq
	}
	s.iter = out.NextShardIterator
	return recs, docs, aws.ToInt64(out.MillisBehindLatest), s.iter == nil, nil
}

// renew gets a new iterator after the last record read, or at the shard's
// starting position if none was.
func (s *kinesisShard) renew(ctx context.Context) error {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(s.stream), ShardId: aws.String(s.shard), ShardIteratorType: ktypes.ShardIteratorType(s.start)}
	if s.last != "" {
		in.ShardIteratorType, in.StartingSequenceNumber = ktypes.ShardIteratorTypeAfterSequenceNumber, aws.String(s.last)
	}
	it, err := s.k.GetShardIterator(ctx, in)
	if err != nil {
		return fmt.Errorf("renew the iterator of shard %s: %w", s.shard, err)
	}
	s.iter = it.ShardIterator
	return nil
}

// kinesisDoc is what Lambda's filters see of a Kinesis record: its
// metadata, with data decoded when it is JSON (otherwise a pattern on data
// cannot match, as on Lambda).
func kinesisDoc(kr events.KinesisRecord) (any, error) {
	doc, err := jsonDoc(kr)
	if err != nil {
		return nil, err
	}
	m := doc.(map[string]any)
	var data any
	if json.Valid(kr.Data) {
		if err := json.Unmarshal(kr.Data, &data); err == nil {
			m["data"] = data
			return m, nil
		}
	}
	delete(m, "data")
	return m, nil
}

// regionOf is the region field of an ARN.
func regionOf(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
		return parts[3]
	}
	return ""
}
