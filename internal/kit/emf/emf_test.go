package emf_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"annals/internal/kit/emf"
	"annals/internal/kit/emf/emftest"
)

// A line that declares metrics is read by CloudWatch as those metrics,
// under the namespace and dimensions, and stays a log line with every
// field.
func TestALineDeclaresItsFieldsAsMetrics(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	m := emf.New("annals", emf.Dimension{Name: "FunctionName", Value: "stack-CommandFunction-1"})
	args := append([]any{"path", "/accounts", "latencyMs", 12.5, "ddbRequests", 2},
		m.Args(emf.Metric{Name: "latencyMs", Unit: emf.Milliseconds}, emf.Metric{Name: "ddbRequests", Unit: emf.Count})...)
	log.Info("command", args...)

	got, err := emftest.Read(b.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	want := map[string]float64{"latencyMs": 12.5, "ddbRequests": 2}
	if len(got) != len(want) {
		t.Fatalf("metrics %v, want %v", got, want)
	}
	for name, v := range want {
		g := got[name]
		if g.Value != v || g.Namespace != "annals" || g.Dimensions["FunctionName"] != "stack-CommandFunction-1" {
			t.Errorf("%s = %+v, want %v in annals by FunctionName", name, g, v)
		}
	}
	if !strings.Contains(b.String(), `"path":"/accounts"`) {
		t.Errorf("the line lost its own fields: %s", b.String())
	}
}

// Without declarations, or with a nil *Metrics, a line is a plain line.
func TestNoMetricsNoMember(t *testing.T) {
	var m *emf.Metrics
	if args := m.Args(emf.Metric{Name: "x", Unit: emf.Count}); args != nil {
		t.Errorf("nil Metrics: %v", args)
	}
	if args := emf.New("annals").Args(); args != nil {
		t.Errorf("no metrics: %v", args)
	}
}

// The reader refuses what CloudWatch would not extract.
func TestReadRefuses(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`{"_aws":{"CloudWatchMetrics":[]}}`, "no Timestamp"},
		{`{"_aws":{"Timestamp":1700000000,"CloudWatchMetrics":[{"Namespace":"a","Dimensions":[],"Metrics":[{"Name":"x"}]}]},"x":1}`, "not in milliseconds"},
		{`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"a","Dimensions":[],"Metrics":[{"Name":"x"}]}]},"x":"1"}`, "metric x is not a numeric field"},
		{`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"a","Dimensions":[["F"]],"Metrics":[{"Name":"x"}]}]},"x":1}`, "dimension F"},
		{`{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"a","Dimensions":[],"Metrics":[{"Name":"x","Unit":"ms"}]}]},"x":1}`, `unit "ms"`},
	} {
		if _, err := emftest.Read([]byte(c.line)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Read(%s) = %v, want an error saying %q", c.line, err, c.want)
		}
	}
}
