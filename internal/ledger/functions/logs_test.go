package functions_test

import (
	"fmt"
	"slices"
	"testing"

	"annals/internal/localaws/samtemplate"
)

// logGroup returns the logical id of the AWS::Logs::LogGroup the function
// logs to: its LoggingConfig.LogGroup, a Ref to a group of the template.
func logGroup(tpl *samtemplate.Template, function string) (string, error) {
	var p struct {
		LoggingConfig struct{ LogGroup any }
	}
	if err := tpl.Resources[function].Decode(&p); err != nil {
		return "", fmt.Errorf("%s: %w", function, err)
	}
	ref, _ := p.LoggingConfig.LogGroup.(map[string]any)
	id, _ := ref["Ref"].(string)
	if id == "" {
		return "", fmt.Errorf("%s: LoggingConfig.LogGroup is %v, want a Ref to an AWS::Logs::LogGroup of the template: "+
			"the group Lambda creates by itself keeps its logs forever and carries no metric filter", function, p.LoggingConfig.LogGroup)
	}
	if _, err := tpl.Resource(id, "AWS::Logs::LogGroup"); err != nil {
		return "", fmt.Errorf("%s: LoggingConfig.LogGroup: %w", function, err)
	}
	return id, nil
}

// Every function logs to a group of its own that the template declares,
// and every group of the stack keeps its logs for the same time.
func TestEveryFunctionLogsToItsOwnGroupWithRetention(t *testing.T) {
	tpl, err := samtemplate.LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	retention := map[any][]string{}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Logs::LogGroup" {
			continue
		}
		var p struct{ RetentionInDays any }
		if err := r.Decode(&p); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if p.RetentionInDays == nil {
			t.Errorf("%s has no RetentionInDays: it would keep its logs forever", id)
		}
		retention[p.RetentionInDays] = append(retention[p.RetentionInDays], id)
	}
	if len(retention) > 1 {
		t.Errorf("the log groups keep their logs for different times: %v", retention)
	}
	owner := map[string]string{}
	for _, fn := range slices.Sorted(slices.Values(tpl.Functions())) {
		group, err := logGroup(tpl, fn)
		if err != nil {
			t.Error(err)
			continue
		}
		if other, ok := owner[group]; ok {
			t.Errorf("%s and %s both log to %s: each function's error lines must be counted apart", other, fn, group)
		}
		owner[group] = fn
	}
	if len(owner) == 0 {
		t.Error("no function has a log group")
	}
}
