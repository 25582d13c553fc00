package functions_test

import (
	"slices"
	"testing"

	"annals/internal/localaws/samtemplate"
)

// Every function runs with X-Ray's active tracing, set once in Globals and
// switched off by none (the roles' grants for it are held by
// TestTemplateMatchesManifests). The HTTP API has no tracing of its own to
// set: HTTP APIs do not trace (docs/operations.md).
func TestEveryFunctionIsTraced(t *testing.T) {
	tpl, err := samtemplate.LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Globals["Function"]["Tracing"]; got != "Active" {
		t.Errorf("Globals.Function.Tracing is %v, want Active", got)
	}
	for _, fn := range slices.Sorted(slices.Values(tpl.Functions())) {
		if mode, ok := tpl.Resources[fn].Properties["Tracing"]; ok && mode != "Active" {
			t.Errorf("%s sets Tracing: %v", fn, mode)
		}
	}
	for id, r := range tpl.Resources {
		if r.Type == "AWS::Serverless::HttpApi" {
			if _, ok := r.Properties["TracingEnabled"]; ok {
				t.Errorf("%s sets TracingEnabled, which an HTTP API does not have", id)
			}
		}
	}
}
