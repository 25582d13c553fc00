package awstest

import (
	"reflect"
	"slices"
	"testing"
)

// Function is what a test reads of a serverless function in template.yaml:
// its code, environment, inline policies (or its role's, for a function
// with a Role of the template's own), and its events, each with the
// properties P the test checks.
type Function[P any] struct {
	CodeUri     string
	Environment struct{ Variables map[string]any }
	Policies    []struct{ Statement []Statement }
	Role        any
	Events      map[string]Event[P]
}

// Event is one event of a function: its type and properties.
type Event[P any] struct {
	Type       string
	Properties P
}

// Statement is one statement of an inline policy.
type Statement struct {
	Effect   string
	Action   []string
	Resource any
}

// TemplateFunction reads the function logicalID of template.yaml, or fails
// the test.
func TemplateFunction[P any](t testing.TB, logicalID string) Function[P] {
	t.Helper()
	res, ok := Template(t).Resources[logicalID]
	if !ok {
		t.Fatalf("no %s in template.yaml", logicalID)
	}
	var fn Function[P]
	if err := res.Decode(&fn); err != nil {
		t.Fatal(err)
	}
	if fn.Role == nil {
		return fn
	}
	// The role's inline policies stand for the function's: SAM ignores
	// Policies when a function has a Role.
	if len(fn.Policies) > 0 {
		t.Errorf("%s has a Role and Policies, which SAM ignores", logicalID)
	}
	att, _ := fn.Role.(map[string]any)["Fn::GetAtt"].([]any)
	if len(att) != 2 || att[1] != "Arn" {
		t.Fatalf("%s: Role %v, want !GetAtt <role>.Arn", logicalID, fn.Role)
	}
	role, ok := Template(t).Resources[att[0].(string)]
	if !ok || role.Type != "AWS::IAM::Role" {
		t.Fatalf("%s: Role %v is not an AWS::IAM::Role of the template", logicalID, att[0])
	}
	var p struct {
		Policies []struct {
			PolicyDocument struct{ Statement []Statement }
		}
	}
	if err := role.Decode(&p); err != nil {
		t.Fatal(err)
	}
	for _, doc := range p.Policies {
		fn.Policies = append(fn.Policies, struct{ Statement []Statement }{doc.PolicyDocument.Statement})
	}
	return fn
}

// Grant is what one statement allows: its actions, sorted, on its
// resource (one, or a list).
type Grant struct {
	Actions  []string
	Resource any
}

// Grants lists what the function's statements allow, in the template's
// order. A statement that is not an Allow fails the test: the functions'
// policies only ever grant.
func (f Function[P]) Grants(t testing.TB) []Grant {
	t.Helper()
	var out []Grant
	for _, p := range f.Policies {
		for _, s := range p.Statement {
			if s.Effect != "Allow" {
				t.Errorf("statement %+v", s)
			}
			out = append(out, Grant{slices.Sorted(slices.Values(s.Action)), s.Resource})
		}
	}
	return out
}

// Check compares the function's code folder, environment and grants with
// what the test wants, and returns the grants.
func (f Function[P]) Check(t testing.TB, codeURI string, env map[string]any, grants []Grant) []Grant {
	t.Helper()
	if f.CodeUri != codeURI {
		t.Errorf("CodeUri = %q, want %q", f.CodeUri, codeURI)
	}
	if !reflect.DeepEqual(f.Environment.Variables, env) {
		t.Errorf("environment %v, want %v", f.Environment.Variables, env)
	}
	got := f.Grants(t)
	if !reflect.DeepEqual(got, grants) {
		t.Errorf("grants %+v, want %+v", got, grants)
	}
	return got
}

// Ref is !Ref logicalID as the parsed template holds it.
func Ref(logicalID string) map[string]any { return map[string]any{"Ref": logicalID} }

// GetAtt is !GetAtt logicalID.attribute as the parsed template holds it.
func GetAtt(logicalID, attribute string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{logicalID, attribute}}
}
