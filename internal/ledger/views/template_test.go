package views_test

import (
	"reflect"
	"slices"
	"testing"

	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// The projector in template.yaml: its configuration, least privilege (its
// role: the views' tables, the events table, its dead-letter queue, the
// one stream it reads, its own logs), and a Kinesis source with bounded
// retries and a dead-letter destination.
func TestTemplateWiresTheProjector(t *testing.T) {
	p := awstest.TemplateFunction[struct {
		Stream                     any
		StartingPosition           string
		BatchSize                  int
		FunctionResponseTypes      []string
		BisectBatchOnFunctionError bool
		MaximumRetryAttempts       int
		DestinationConfig          struct {
			OnFailure struct {
				Type        string
				Destination any
			}
		}
	}](t, "ProjectorFunction")
	// Every view of the registry, each over the table a rebuild can switch.
	wantEnv := map[string]any{
		"EVENTS_TABLE":          awstest.Ref("EventsTable"),
		"DEAD_LETTER_QUEUE_URL": awstest.Ref("ProjectorDeadLetterQueue"),
	}
	var viewTables []any
	for _, v := range views.All {
		wantEnv[v.Env] = awstest.ViewTableRef(v.Table)
		viewTables = append(viewTables, awstest.ViewTableArn(v.Table, ""))
	}
	p.Check(t, "functions/projector", wantEnv, []awstest.Grant{
		{Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}, Resource: viewTables},
		{Actions: []string{"dynamodb:Query"}, Resource: awstest.GetAtt("EventsTable", "Arn")},
		{Actions: []string{"sqs:SendMessage"}, Resource: awstest.GetAtt("ProjectorDeadLetterQueue", "Arn")},
		{Actions: []string{"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"},
			Resource: awstest.GetAtt("EventsStream", "Arn")},
		{Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, Resource: awstest.GetAtt("ProjectorLogs", "Arn")},
		// Active tracing: Lambda sends its segments (X-Ray takes no resource).
		{Actions: []string{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}, Resource: "*"},
	})
	if len(p.Events) != 1 {
		t.Fatalf("%d event sources, want 1", len(p.Events))
	}
	for name, e := range p.Events {
		ep := e.Properties
		if e.Type != "Kinesis" || !reflect.DeepEqual(ep.Stream, awstest.GetAtt("EventsStream", "Arn")) ||
			ep.StartingPosition != "TRIM_HORIZON" || ep.BatchSize != 100 ||
			!slices.Equal(ep.FunctionResponseTypes, []string{"ReportBatchItemFailures"}) ||
			!ep.BisectBatchOnFunctionError || ep.MaximumRetryAttempts != 5 ||
			ep.DestinationConfig.OnFailure.Type != "SQS" ||
			!reflect.DeepEqual(ep.DestinationConfig.OnFailure.Destination, awstest.GetAtt("ProjectorDeadLetterQueue", "Arn")) {
			t.Errorf("event source %s = %+v", name, e)
		}
	}
	alarm, ok := awstest.Template(t).Resources["ProjectorIteratorAgeAlarm"]
	if !ok || alarm.Properties["MetricName"] != "IteratorAge" {
		t.Errorf("no iterator age alarm on the projector: %+v", alarm)
	}
}
