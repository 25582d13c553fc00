package fanout_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"annals/internal/localaws/awstest"
)

// The function in template.yaml puts commits on the events stream and
// letters on its skipped-commits queue; its event source mapping never
// gives up, reports the first unsent record, records on its dead-letter
// queue the commits whose records expired from the table's stream unsent,
// and its filter lets through exactly the commit inserts (checked on the
// golden payload's
// records).
func TestTemplateWiresTheFanout(t *testing.T) {
	p := awstest.TemplateFunction[struct {
		Stream                    any
		StartingPosition          string
		FunctionResponseTypes     []string
		MaximumRetryAttempts      int
		MaximumRecordAgeInSeconds int
		ParallelizationFactor     int
		FilterCriteria            struct{ Filters []struct{ Pattern string } }
		DestinationConfig         struct {
			OnFailure struct {
				Type        string
				Destination any
			}
		}
	}](t, "FanoutFunction")
	// Its role: kinesis:PutRecords on the events stream and the letters
	// of skipped commits on its queue; for its event source mapping, the
	// reads of the table's stream and the send to its dead-letter queue;
	// its own logs.
	p.Check(t, "functions/fanout", map[string]any{
		"STREAM_NAME":       awstest.Ref("EventsStream"),
		"SKIPPED_QUEUE_URL": awstest.Ref("FanoutSkippedQueue"),
	}, []awstest.Grant{
		{Actions: []string{"kinesis:PutRecords"}, Resource: awstest.GetAtt("EventsStream", "Arn")},
		{Actions: []string{"sqs:SendMessage"}, Resource: awstest.GetAtt("FanoutSkippedQueue", "Arn")},
		{Actions: []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
			Resource: awstest.GetAtt("EventsTable", "StreamArn")},
		{Actions: []string{"sqs:SendMessage"}, Resource: awstest.GetAtt("FanoutDeadLetterQueue", "Arn")},
		{Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, Resource: awstest.GetAtt("FanoutLogs", "Arn")},
		// Active tracing: Lambda sends its segments (X-Ray takes no resource).
		{Actions: []string{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}, Resource: "*"},
	})
	if len(p.Events) != 1 {
		t.Fatalf("%d event sources, want 1", len(p.Events))
	}
	for name, e := range p.Events {
		ep := e.Properties
		if e.Type != "DynamoDB" || !reflect.DeepEqual(ep.Stream, awstest.GetAtt("EventsTable", "StreamArn")) ||
			ep.StartingPosition != "TRIM_HORIZON" || !slices.Equal(ep.FunctionResponseTypes, []string{"ReportBatchItemFailures"}) ||
			ep.MaximumRetryAttempts != -1 || ep.MaximumRecordAgeInSeconds != -1 || ep.ParallelizationFactor != 1 ||
			ep.DestinationConfig.OnFailure.Type != "SQS" ||
			!reflect.DeepEqual(ep.DestinationConfig.OnFailure.Destination, awstest.GetAtt("FanoutDeadLetterQueue", "Arn")) {
			t.Errorf("event source %s = %+v", name, e)
		}
		if len(ep.FilterCriteria.Filters) != 1 {
			t.Fatalf("%d filters, want 1", len(ep.FilterCriteria.Filters))
		}
		var pattern map[string]any
		if err := json.Unmarshal([]byte(ep.FilterCriteria.Filters[0].Pattern), &pattern); err != nil {
			t.Fatalf("filter pattern: %v", err)
		}
		_, raw := goldenEvent(t)
		var golden struct{ Records []map[string]any }
		if err := json.Unmarshal(raw, &golden); err != nil {
			t.Fatal(err)
		}
		var kept []bool
		for _, r := range golden.Records {
			kept = append(kept, matches(pattern, r))
		}
		if !slices.Equal(kept, []bool{true, false}) {
			t.Errorf("filter keeps %v of [commit insert, snapshot insert], want [true false]", kept)
		}
		modify := golden.Records[0]
		modify["eventName"] = "MODIFY"
		if matches(pattern, modify) {
			t.Error("filter keeps a MODIFY")
		}
	}
}

// matches applies the subset of Lambda's event filter syntax the template
// uses: nested objects, and arrays of allowed string values at the leaves.
func matches(pattern, v map[string]any) bool {
	for k, p := range pattern {
		switch p := p.(type) {
		case map[string]any:
			sub, ok := v[k].(map[string]any)
			if !ok || !matches(p, sub) {
				return false
			}
		case []any:
			if !slices.Contains(p, v[k]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}
