package samtemplate

import (
	"reflect"
	"strings"
	"testing"
)

func TestProjectFanoutEventSource(t *testing.T) {
	tpl := project(t)
	sources, err := tpl.EventSources()
	if err != nil {
		t.Fatal(err)
	}
	var fanout *EventSource
	for i, s := range sources {
		if s.Function == "FanoutFunction" {
			fanout = &sources[i]
		}
	}
	if fanout == nil {
		t.Fatalf("no event source for FanoutFunction in %+v", sources)
	}
	want := EventSource{
		Function:                       "FanoutFunction",
		Event:                          "Commits",
		Kind:                           KindDynamoDB,
		Source:                         "EventsTable",
		StartingPosition:               "TRIM_HORIZON",
		BatchSize:                      100,
		MaximumBatchingWindowInSeconds: 1,
		FunctionResponseTypes:          []string{ReportBatchItemFailures},
		MaximumRetryAttempts:           -1,
		MaximumRecordAgeInSeconds:      -1,
		ParallelizationFactor:          1,
		OnFailure:                      "FanoutDeadLetterQueue",
		Filters:                        []string{`{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["commit"]}}}}`},
		Enabled:                        true,
	}
	if !reflect.DeepEqual(*fanout, want) {
		t.Errorf("fanout source =\n%+v\nwant\n%+v", *fanout, want)
	}
	if !fanout.ReportsBatchItemFailures() {
		t.Error("the fanout does not report batch item failures")
	}
	for _, s := range sources {
		if s.Function == "CommandFunction" {
			t.Errorf("an HttpApi event became a stream source: %+v", s)
		}
	}
}

const kinesisTemplate = `
Resources:
  Stream:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 1
  Table:
    Type: AWS::DynamoDB::Table
  DLQ:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Api:
          Type: HttpApi
          Properties:
            Path: /x
            Method: GET
        B:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Stream.Arn
            StartingPosition: LATEST
        A:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Stream.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            MaximumRetryAttempts: 1
            BisectBatchOnFunctionError: true
            Enabled: false
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt DLQ.Arn
            FilterCriteria:
              Filters:
                - Pattern: '{"data": {"type": ["x"]}}'
                - Pattern: '{"partitionKey": [{"prefix": "a"}]}'
`

func TestKinesisEventSources(t *testing.T) {
	tpl := load(t, kinesisTemplate)
	got, err := tpl.EventSources()
	if err != nil {
		t.Fatal(err)
	}
	want := []EventSource{{
		Function: "Fn", Event: "A", Kind: KindKinesis, Source: "Stream", StartingPosition: "TRIM_HORIZON",
		BatchSize: 2, FunctionResponseTypes: []string{ReportBatchItemFailures}, MaximumRetryAttempts: 1,
		MaximumRecordAgeInSeconds: -1, ParallelizationFactor: 1, BisectBatchOnFunctionError: true,
		OnFailure: "DLQ", Filters: []string{`{"data": {"type": ["x"]}}`, `{"partitionKey": [{"prefix": "a"}]}`},
	}, {
		Function: "Fn", Event: "B", Kind: KindKinesis, Source: "Stream", StartingPosition: "LATEST",
		BatchSize: DefaultBatchSize, MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1,
		ParallelizationFactor: 1, Enabled: true,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sources =\n%+v\nwant\n%+v", got, want)
	}
	if got[1].ReportsBatchItemFailures() {
		t.Error("B reports batch item failures without saying so")
	}
}

func TestEventSourceErrors(t *testing.T) {
	for _, c := range []struct {
		name, typ, props, wantErr string
	}{
		{"unknown property", "Kinesis", "Stream: !GetAtt Stream.Arn\n            StartingPosition: LATEST\n            TumblingWindowInSeconds: 5", "TumblingWindowInSeconds"},
		{"no starting position", "Kinesis", "Stream: !GetAtt Stream.Arn", "StartingPosition"},
		{"literal ARN", "Kinesis", "Stream: arn:aws:kinesis:us-east-1:1:stream/s\n            StartingPosition: LATEST", "GetAtt"},
		{"table as kinesis", "Kinesis", "Stream: !GetAtt Table.Arn\n            StartingPosition: LATEST", "not a AWS::Kinesis::Stream"},
		{"stream as table", "DynamoDB", "Stream: !GetAtt Stream.Arn\n            StartingPosition: LATEST", "StreamArn"},
		{"missing resource", "DynamoDB", "Stream: !GetAtt Nope.StreamArn\n            StartingPosition: LATEST", "no such resource"},
		{"batch size", "DynamoDB", "Stream: !GetAtt Table.StreamArn\n            StartingPosition: LATEST\n            BatchSize: 0", "BatchSize"},
		{"retries", "DynamoDB", "Stream: !GetAtt Table.StreamArn\n            StartingPosition: LATEST\n            MaximumRetryAttempts: -2", "MaximumRetryAttempts"},
		{"response type", "DynamoDB", "Stream: !GetAtt Table.StreamArn\n            StartingPosition: LATEST\n            FunctionResponseTypes: [Everything]", "Everything"},
		{"destination not a queue", "DynamoDB", "Stream: !GetAtt Table.StreamArn\n            StartingPosition: LATEST\n            DestinationConfig: {OnFailure: {Destination: !GetAtt Stream.Arn}}", "not a AWS::SQS::Queue"},
		{"empty pattern", "DynamoDB", "Stream: !GetAtt Table.StreamArn\n            StartingPosition: LATEST\n            FilterCriteria: {Filters: [{Pattern: ''}]}", "no Pattern"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := `
Resources:
  Stream:
    Type: AWS::Kinesis::Stream
  Table:
    Type: AWS::DynamoDB::Table
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        E:
          Type: ` + c.typ + `
          Properties:
            ` + c.props + "\n"
			_, err := load(t, body).EventSources()
			failedAsWanted(t, err, c.wantErr)
			if !strings.Contains(err.Error(), "Fn event E") {
				t.Errorf("err = %v does not name the function and event", err)
			}
		})
	}
}
