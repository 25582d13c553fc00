package views_test

import (
	"reflect"
	"slices"
	"testing"

	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

func getAtt(res, att string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{res, att}}
}

// The projector in template.yaml: its configuration, least privilege, and
// a Kinesis source with bounded retries and a dead-letter destination.
func TestTemplateWiresTheProjector(t *testing.T) {
	fn, ok := awstest.Template(t).Resources["ProjectorFunction"]
	if !ok {
		t.Fatal("no ProjectorFunction in template.yaml")
	}
	var p struct {
		CodeUri     string
		Environment struct{ Variables map[string]any }
		Policies    []struct {
			Statement []struct {
				Effect   string
				Action   []string
				Resource any
			}
		}
		Events map[string]struct {
			Type       string
			Properties struct {
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
			}
		}
	}
	if err := fn.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.CodeUri != "functions/projector" {
		t.Errorf("CodeUri = %q", p.CodeUri)
	}
	// Every view of the registry, each over the table a rebuild can switch.
	wantEnv := map[string]any{
		"EVENTS_TABLE":          map[string]any{"Ref": "EventsTable"},
		"DEAD_LETTER_QUEUE_URL": map[string]any{"Ref": "ProjectorDeadLetterQueue"},
	}
	var viewTables []any
	for _, v := range views.All {
		wantEnv[v.Env] = awstest.ViewTableRef(v.Table)
		viewTables = append(viewTables, awstest.ViewTableArn(v.Table, ""))
	}
	if !reflect.DeepEqual(p.Environment.Variables, wantEnv) {
		t.Errorf("environment %v, want %v", p.Environment.Variables, wantEnv)
	}
	type grant struct {
		actions  []string
		resource any
	}
	want := []grant{
		{[]string{"dynamodb:GetItem", "dynamodb:PutItem"}, viewTables},
		{[]string{"dynamodb:Query"}, getAtt("EventsTable", "Arn")},
		{[]string{"sqs:SendMessage"}, getAtt("ProjectorDeadLetterQueue", "Arn")},
	}
	var got []grant
	for _, pol := range p.Policies {
		for _, s := range pol.Statement {
			if s.Effect != "Allow" {
				t.Errorf("statement %+v", s)
			}
			got = append(got, grant{slices.Sorted(slices.Values(s.Action)), s.Resource})
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("grants %+v, want %+v", got, want)
	}
	if len(p.Events) != 1 {
		t.Fatalf("%d event sources, want 1", len(p.Events))
	}
	for name, e := range p.Events {
		ep := e.Properties
		if e.Type != "Kinesis" || !reflect.DeepEqual(ep.Stream, getAtt("EventsStream", "Arn")) ||
			ep.StartingPosition != "TRIM_HORIZON" || ep.BatchSize != 100 ||
			!slices.Equal(ep.FunctionResponseTypes, []string{"ReportBatchItemFailures"}) ||
			!ep.BisectBatchOnFunctionError || ep.MaximumRetryAttempts != 5 ||
			ep.DestinationConfig.OnFailure.Type != "SQS" ||
			!reflect.DeepEqual(ep.DestinationConfig.OnFailure.Destination, getAtt("ProjectorDeadLetterQueue", "Arn")) {
			t.Errorf("event source %s = %+v", name, e)
		}
	}
	alarm, ok := awstest.Template(t).Resources["ProjectorIteratorAgeAlarm"]
	if !ok || alarm.Properties["MetricName"] != "IteratorAge" {
		t.Errorf("no iterator age alarm on the projector: %+v", alarm)
	}
}
