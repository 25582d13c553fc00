package samtemplate

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

const apiTemplate = `
Parameters:
  Claim:
    Type: String
    Default: tenant
  Issuer:
    Type: String
  Other:
    Type: String
    Default: ""
Conditions:
  HasOther: !Not [!Equals [!Ref Other, ""]]
  Both: !And [!Condition HasOther, !Equals [!Ref Claim, tenant]]
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        LOG_LEVEL: info
        SHARED: global
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Queue:
    Type: AWS::SQS::Queue
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: !Ref Table
          TABLE_ARN: !GetAtt Table.Arn
          QUEUE_URL: !Ref Queue
          CLAIM: !Ref Claim
          SHARED: own
          SIZE: 3
          PICKED: !If [HasOther, !Ref Other, !Ref Table]
          BOTH: !If [Both, "yes", "no"]
      Events:
        One:
          Type: HttpApi
          Properties: {Path: "/things/{id}", Method: get}
        All:
          Type: HttpApi
          Properties: {Path: /things, Method: GET}
  Writer:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Fallback:
          Type: HttpApi
          Properties: {Path: $default, Method: ANY}
        Create:
          Type: HttpApi
          Properties: {Path: /things, Method: POST}
`

type fakeNames map[string]string

func (f fakeNames) Ref(id string) (string, bool) { s, ok := f[id]; return s, ok }
func (f fakeNames) GetAtt(id, att string) (string, bool) {
	s, ok := f[id+"."+att]
	return s, ok
}

func TestRoutes(t *testing.T) {
	tpl := load(t, apiTemplate)
	routes, err := tpl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		got = append(got, r.Function+":"+r.Key())
	}
	if want := "[Writer:$default Reader:GET /things Writer:POST /things Reader:GET /things/{id}]"; fmt.Sprint(got) != want {
		t.Errorf("routes %v, want %s", got, want)
	}
	if fns := tpl.Functions(); fmt.Sprint(fns) != "[Reader Writer]" {
		t.Errorf("functions %v", fns)
	}

	dup := strings.Replace(apiTemplate, "{Path: /things, Method: POST}", "{Path: /things, Method: get}", 1)
	tpl = load(t, dup)
	if _, err := tpl.Routes(); err == nil || !strings.Contains(err.Error(), "GET /things") {
		t.Errorf("a route declared twice: %v", err)
	}
}

func TestEnvironment(t *testing.T) {
	tpl := load(t, apiTemplate)
	names := fakeNames{"Table": "local-table", "Table.Arn": "arn:aws:dynamodb:us-east-1:000000000000:table/local-table",
		"Queue": "http://127.0.0.1:1/000000000000/local-queue"}
	env, err := tpl.Environment("Reader", names, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"LOG_LEVEL": "info", "SHARED": "own", "SIZE": "3", "CLAIM": "tenant",
		"TABLE": "local-table", "TABLE_ARN": names["Table.Arn"], "QUEUE_URL": names["Queue"],
		"PICKED": "local-table", "BOTH": "no",
	}
	if !maps.Equal(env, want) {
		t.Errorf("environment\n got %v\nwant %v", env, want)
	}
	if env, err := tpl.Environment("Reader", names, map[string]string{"Claim": "custom:tenant"}); err != nil || env["CLAIM"] != "custom:tenant" {
		t.Errorf("CLAIM = %q (%v), want the parameter's value", env["CLAIM"], err)
	}
	if env, err := tpl.Environment("Reader", names, map[string]string{"Other": "rebuilt"}); err != nil || env["PICKED"] != "rebuilt" || env["BOTH"] != "yes" {
		t.Errorf("PICKED = %q, BOTH = %q (%v), want the parameter's table when it is set", env["PICKED"], env["BOTH"], err)
	}
	if _, err := tpl.Environment("Reader", fakeNames{}, nil); err == nil || !strings.Contains(err.Error(), "Reader variable PICKED: Ref Table") {
		t.Errorf("an unknown resource resolved: %v", err)
	}
	if _, err := tpl.Environment("Table", names, nil); err == nil {
		t.Error("a table has no environment")
	}
}

// Every function of the project's template gets a complete environment
// from the resources the template declares.
func TestProjectEnvironments(t *testing.T) {
	tpl := project(t)
	names := fakeNames{}
	for id := range tpl.Resources {
		names[id] = "local-" + id
		for _, att := range []string{"Arn", "StreamArn"} {
			names[id+"."+att] = "arn:local:" + id + ":" + att
		}
	}
	if len(tpl.Functions()) < 3 {
		t.Fatalf("functions %v", tpl.Functions())
	}
	for _, fn := range tpl.Functions() {
		env, err := tpl.Environment(fn, names, nil)
		if err != nil {
			t.Errorf("%s: %v", fn, err)
		}
		if env["LOG_LEVEL"] != "info" {
			t.Errorf("%s: LOG_LEVEL %q, want the global info", fn, env["LOG_LEVEL"])
		}
	}
}
