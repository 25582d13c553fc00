package samtemplate

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func writeTemplate(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// load parses a template of the given text, or fails the test.
func load(t *testing.T, body string) *Template {
	t.Helper()
	tpl, err := Load(writeTemplate(t, body))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// project parses the project's template.yaml, or fails the test.
func project(t *testing.T) *Template {
	t.Helper()
	tpl, err := LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// failedAsWanted checks an error against want, the text an error must
// mention ("": no error at all), failing the test when it does not match.
// It reports whether there was an error to stop at.
func failedAsWanted(t *testing.T, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one mentioning %q", err, want)
	}
	return true
}

func TestShortFormIntrinsicsBecomeLongForm(t *testing.T) {
	tpl := load(t, `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: !Ref EventsTable
          STREAM: !GetAtt EventsTable.StreamArn
          NAME: !Sub "${AWS::StackName}-x"
          LIST: !Join [",", [a, b]]
`)
	vars := tpl.Resources["Fn"].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	want := map[string]any{
		"TABLE":  map[string]any{"Ref": "EventsTable"},
		"STREAM": map[string]any{"Fn::GetAtt": []any{"EventsTable", "StreamArn"}},
		"NAME":   map[string]any{"Fn::Sub": "${AWS::StackName}-x"},
		"LIST":   map[string]any{"Fn::Join": []any{",", []any{"a", "b"}}},
	}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("variables =\n%#v\nwant\n%#v", vars, want)
	}
}

func TestProjectEventsTable(t *testing.T) {
	tpl := project(t)
	def, err := tpl.Table("EventsTable", "t1")
	if err != nil {
		t.Fatal(err)
	}
	in := def.Create
	if aws.ToString(in.TableName) != "t1" {
		t.Errorf("table name = %q, want the name asked for", aws.ToString(in.TableName))
	}
	if in.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing = %s", in.BillingMode)
	}
	if in.StreamSpecification == nil || in.StreamSpecification.StreamViewType != types.StreamViewTypeNewImage {
		t.Errorf("stream = %+v, want NEW_IMAGE", in.StreamSpecification)
	}
	if !aws.ToBool(in.DeletionProtectionEnabled) {
		t.Error("the events table must have deletion protection")
	}
	r := tpl.Resources["EventsTable"]
	if r.DeletionPolicy != "Retain" {
		t.Errorf("DeletionPolicy = %q, want Retain", r.DeletionPolicy)
	}
}

func TestUnknownTablePropertyIsRefused(t *testing.T) {
	tpl := load(t, `
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      ContributorInsightsSpecification: {Enabled: true}
`)
	_, err := tpl.Table("T", "x")
	if err == nil || !strings.Contains(err.Error(), "ContributorInsightsSpecification") {
		t.Fatalf("err = %v, want one naming the unknown property", err)
	}
}

func TestWrongTypeAndMissingResource(t *testing.T) {
	tpl := load(t, `
Resources:
  Q:
    Type: AWS::SQS::Queue
`)
	if _, err := tpl.Table("Q", "x"); err == nil || !strings.Contains(err.Error(), "AWS::SQS::Queue") {
		t.Errorf("table from a queue: err = %v", err)
	}
	if _, err := tpl.Table("Nope", "x"); err == nil {
		t.Error("table from a missing resource: no error")
	}
}
