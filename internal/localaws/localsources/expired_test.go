package localsources

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
)

// expiringStreams serves one shard of numbered records; every iterator it
// hands out works once, and the first one it is asked for after "expire"
// is expired, as an iterator older than 15 minutes is.
type expiringStreams struct {
	Streams
	records []string // sequence numbers
	expire  bool
	asked   []string // the iterator requests, as type@sequence
}

func (s *expiringStreams) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	s.asked = append(s.asked, string(in.ShardIteratorType)+"@"+aws.ToString(in.SequenceNumber))
	from := 0
	if in.ShardIteratorType == streamstypes.ShardIteratorTypeAfterSequenceNumber {
		for i, r := range s.records {
			if r == aws.ToString(in.SequenceNumber) {
				from = i + 1
			}
		}
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprint(from))}, nil
}

func (s *expiringStreams) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	if s.expire {
		s.expire = false
		return nil, &smithy.GenericAPIError{Code: "ExpiredIteratorException", Message: "Iterator expired."}
	}
	var from int
	fmt.Sscan(aws.ToString(in.ShardIterator), &from)
	out := &dynamodbstreams.GetRecordsOutput{NextShardIterator: aws.String(fmt.Sprint(len(s.records)))}
	for _, seq := range s.records[from:] {
		out.Records = append(out.Records, streamstypes.Record{
			EventName: streamstypes.OperationTypeInsert,
			Dynamodb: &streamstypes.StreamRecord{
				SequenceNumber: aws.String(seq),
				Keys:           map[string]streamstypes.AttributeValue{"pk": &streamstypes.AttributeValueMemberS{Value: seq}},
			},
		})
	}
	return out, nil
}

// A shard whose iterator expired (the stack was suspended past its
// lifetime) goes on after the last record it read, losing and repeating
// nothing.
func TestExpiredIteratorResumesAfterTheLastRecord(t *testing.T) {
	streams := &expiringStreams{records: []string{"1", "2"}}
	sh := &dynamoShard{streams: streams, arn: "arn", shard: "shard-1", start: "TRIM_HORIZON", iter: aws.String("0")}
	read := func() []string {
		t.Helper()
		recs, _, _, _, err := sh.read(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []string
		for _, r := range recs {
			seqs = append(seqs, r.seq)
		}
		return seqs
	}
	if got := fmt.Sprint(read()); got != "[1 2]" {
		t.Fatalf("first read %s", got)
	}
	streams.records = append(streams.records, "3", "4")
	streams.expire = true
	if got := fmt.Sprint(read()); got != "[3 4]" {
		t.Fatalf("read after the iterator expired: %s, want [3 4]", got)
	}
	if fmt.Sprint(streams.asked) != "[AFTER_SEQUENCE_NUMBER@2]" {
		t.Errorf("iterators asked for %v, want one after sequence number 2", streams.asked)
	}
}
