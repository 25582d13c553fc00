package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"annals/internal/kit/awsconfig"
	"annals/internal/localaws/samtemplate"
)

// alarm is what the test reads of an AWS::CloudWatch::Alarm.
type alarm struct {
	Namespace  any
	MetricName string
	Dimensions []struct {
		Name  string
		Value any
	}
	AlarmActions any
}

// key names a metric: its namespace, its name and, when it has one, the
// value of its dimension.
func key(namespace any, metric string, dimension any) string {
	if dimension == nil {
		return fmt.Sprintf("%v %s", namespace, metric)
	}
	return fmt.Sprintf("%v %s %v", namespace, metric, dimension)
}

// Every function alarms on errors, throttles and the error lines it logs,
// the API on its 5xx answers, every stream consumer on its iterator age,
// every queue on its depth, every metric a log filter counts has its
// alarm, and every alarm notifies the AlarmTopic when one is given:
// nothing can fail unseen. The HTTP functions answer a failure as a 500 or
// a 503 and return no Lambda error, so their Errors metric never sees it.
func TestEveryFailureHasAnAlarm(t *testing.T) {
	tpl, err := samtemplate.LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	have := alarmed(t, tpl)
	ref := func(id string) any { return map[string]any{"Ref": id} }
	var want []string
	for _, fn := range tpl.Functions() {
		want = append(want, key("AWS/Lambda", "Errors", ref(fn)), key("AWS/Lambda", "Throttles", ref(fn)))
		if _, err := errorLogMetric(tpl, fn); err != nil {
			t.Error(err)
		}
	}
	sources, err := tpl.EventSources()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		want = append(want, key("AWS/Lambda", "IteratorAge", ref(s.Function)))
	}
	for id, r := range tpl.Resources {
		switch r.Type {
		case "AWS::SQS::Queue":
			want = append(want, queueDepth(id))
		case "AWS::Serverless::HttpApi":
			want = append(want, key("AWS/ApiGateway", "5xx", ref(id)))
		case "AWS::Logs::MetricFilter":
			f, err := decodeFilter(id, r)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, f.metric)
		}
	}
	slices.Sort(want)
	for _, w := range slices.Compact(want) {
		if !have[w] {
			t.Errorf("no alarm on %s", w)
		}
	}
}

// alarmed returns the keys of the metrics the template's alarms watch,
// failing the test for an alarm that does not notify the AlarmTopic.
func alarmed(t *testing.T, tpl *samtemplate.Template) map[string]bool {
	t.Helper()
	notify := map[string]any{"Fn::If": []any{"Notify", []any{map[string]any{"Ref": "AlarmTopic"}}, map[string]any{"Ref": "AWS::NoValue"}}}
	have := map[string]bool{}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		var a alarm
		if err := r.Decode(&a); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !reflect.DeepEqual(a.AlarmActions, notify) {
			t.Errorf("%s notifies %v, want the AlarmTopic when it is set", id, a.AlarmActions)
		}
		for _, d := range a.Dimensions {
			have[key(a.Namespace, a.MetricName, d.Value)] = true
		}
		if len(a.Dimensions) == 0 {
			have[key(a.Namespace, a.MetricName, nil)] = true
		}
	}
	return have
}

// queueDepth is the key of a queue's count of visible messages.
func queueDepth(queue string) string {
	return key("AWS/SQS", "ApproximateNumberOfMessagesVisible", map[string]any{"Fn::GetAtt": []any{queue, "QueueName"}})
}

// Every stream event source keeps a record of what it gives up on (for
// the fan-out, commits whose records expired from the table's stream
// unsent) on an encrypted queue that keeps it 14 days, the longest SQS
// allows, and whose depth alarms.
func TestEveryStreamSourceKeepsWhatItGivesUp(t *testing.T) {
	tpl, err := samtemplate.LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	have := alarmed(t, tpl)
	sources, err := tpl.EventSources()
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) == 0 {
		t.Fatal("no stream event sources in template.yaml")
	}
	for _, s := range sources {
		if s.OnFailure == "" {
			t.Errorf("%s event %s has no DestinationConfig.OnFailure: what it gives up on leaves no trace", s.Function, s.Event)
			continue
		}
		var q struct {
			SqsManagedSseEnabled   bool
			MessageRetentionPeriod int
		}
		if err := tpl.Resources[s.OnFailure].Decode(&q); err != nil {
			t.Fatalf("%s: %v", s.OnFailure, err)
		}
		if !q.SqsManagedSseEnabled || q.MessageRetentionPeriod != 14*24*60*60 {
			t.Errorf("%s (on failure of %s): %+v, want SQS-managed encryption and 14 days of retention", s.OnFailure, s.Function, q)
		}
		if !have[queueDepth(s.OnFailure)] {
			t.Errorf("%s (on failure of %s): no alarm on its depth", s.OnFailure, s.Function)
		}
	}
}

// filter is what the test reads of an AWS::Logs::MetricFilter.
type filter struct {
	group   any // its LogGroupName
	pattern string
	metric  string // the key of the metric it counts
}

func decodeFilter(id string, r samtemplate.Resource) (filter, error) {
	var p struct {
		LogGroupName          any
		FilterPattern         string
		MetricTransformations []struct {
			MetricNamespace any
			MetricName      string
		}
	}
	if err := r.Decode(&p); err != nil {
		return filter{}, fmt.Errorf("%s: %w", id, err)
	}
	if len(p.MetricTransformations) != 1 {
		return filter{}, fmt.Errorf("%s: %d metric transformations, want 1", id, len(p.MetricTransformations))
	}
	m := p.MetricTransformations[0]
	return filter{group: p.LogGroupName, pattern: p.FilterPattern, metric: key(m.MetricNamespace, m.MetricName, nil)}, nil
}

// logLines are lines as every function writes them (awsconfig's logger),
// at each level.
func logLines() map[slog.Level]string {
	out := map[slog.Level]string{}
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		var buf bytes.Buffer
		awsconfig.NewLogger(&buf, "debug").Log(context.Background(), level, "something happened", "error", "boom")
		out[level] = strings.TrimSpace(buf.String())
	}
	return out
}

// errorLogMetric returns the key of the metric that counts the error
// lines the function logs: a filter on its log group that matches a line
// its logger writes at error level and none at a lower level.
func errorLogMetric(tpl *samtemplate.Template, function string) (string, error) {
	group, err := logGroup(tpl, function)
	if err != nil {
		return "", err
	}
	lines := logLines()
	for _, id := range slices.Sorted(maps.Keys(tpl.Resources)) {
		r := tpl.Resources[id]
		if r.Type != "AWS::Logs::MetricFilter" {
			continue
		}
		f, err := decodeFilter(id, r)
		if err != nil {
			return "", err
		}
		if !reflect.DeepEqual(f.group, map[string]any{"Ref": group}) {
			continue
		}
		counts := true
		for level, line := range lines {
			ok, err := matchesFilter(f.pattern, line)
			if err != nil {
				return "", fmt.Errorf("%s: %w", id, err)
			}
			counts = counts && ok == (level >= slog.LevelError)
		}
		if counts {
			return f.metric, nil
		}
	}
	return "", fmt.Errorf("%s: no metric filter on its log group %s counts its error lines (and only those)", function, group)
}

var filterTerm = regexp.MustCompile(`^\$\.([A-Za-z0-9_.]+)\s*(=|!=)\s*"([^"]*)"$`)

// matchesFilter evaluates the part of CloudWatch Logs' JSON filter syntax
// the template uses, { $.field = "value" } terms joined by &&, a value
// ending in * matching any text that starts with the rest, on one JSON log
// line. Anything else is an error, for the test to learn.
func matchesFilter(pattern, line string) (bool, error) {
	inner, open := strings.CutPrefix(strings.TrimSpace(pattern), "{")
	inner, closed := strings.CutSuffix(inner, "}")
	if !open || !closed {
		return false, fmt.Errorf("filter pattern %q: only JSON patterns { ... } are understood", pattern)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(line), &doc); err != nil {
		return false, nil // a line that is not JSON never matches a JSON pattern
	}
	for _, term := range strings.Split(inner, "&&") {
		m := filterTerm.FindStringSubmatch(strings.TrimSpace(term))
		if m == nil {
			return false, fmt.Errorf("filter pattern %q: term %q is not understood", pattern, term)
		}
		var v any = doc
		for _, field := range strings.Split(m[1], ".") {
			obj, _ := v.(map[string]any)
			v = obj[field]
		}
		got, _ := v.(string)
		want, prefix := strings.CutSuffix(m[3], "*")
		eq := got == want || prefix && strings.HasPrefix(got, want)
		if eq != (m[2] == "=") {
			return false, nil
		}
	}
	return true, nil
}

// The filter reader agrees with CloudWatch on the patterns the template
// uses.
func TestMatchesFilter(t *testing.T) {
	line := `{"level":"ERROR","msg":"projection quarantined a stream at a poison event","n":{"k":"v"}}`
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{`{ $.level = "ERROR" }`, true},
		{`{ $.level = "INFO" }`, false},
		{`{ $.level != "INFO" }`, true},
		{`{ $.msg = "projection quarantined a stream*" }`, true},
		{`{ $.msg = "projection quarantined" }`, false},
		{`{ $.level = "ERROR" && $.n.k = "v" }`, true},
		{`{ $.level = "ERROR" && $.n.k = "w" }`, false},
		{`{ $.missing = "x" }`, false},
	} {
		got, err := matchesFilter(c.pattern, line)
		if err != nil || got != c.want {
			t.Errorf("%s on %s = %v, %v; want %v", c.pattern, line, got, err, c.want)
		}
	}
	if _, err := matchesFilter(`ERROR`, line); err == nil {
		t.Error("a text pattern was read as understood")
	}
	if ok, err := matchesFilter(`{ $.level = "ERROR" }`, "START RequestId: 1"); ok || err != nil {
		t.Errorf("a line that is not JSON: %v, %v", ok, err)
	}
}
