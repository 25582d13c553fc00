// Package emftest reads a log line as CloudWatch would read it in the
// embedded metric format, for tests of the lines that declare metrics.
package emftest

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Metric is one metric CloudWatch would extract from a line.
type Metric struct {
	Namespace  string
	Dimensions map[string]string
	Unit       string
	Value      float64
}

// Read returns the metrics a line declares, by name, after checking the
// rules CloudWatch Logs applies before it extracts any: an _aws member
// with a Timestamp in milliseconds and at least one directive, each
// naming a namespace, its dimension sets (each name a string field of the
// line) and its metrics (each a numeric field of the line). A line with
// no _aws member declares none.
func Read(line []byte) (map[string]Metric, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	raw, ok := root["_aws"]
	if !ok {
		return nil, nil
	}
	var meta struct {
		Timestamp         *int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("_aws: %w", err)
	}
	switch {
	case meta.Timestamp == nil:
		return nil, fmt.Errorf("_aws has no Timestamp")
	case *meta.Timestamp < 1e12:
		return nil, fmt.Errorf("_aws.Timestamp %d is not in milliseconds", *meta.Timestamp)
	case len(meta.CloudWatchMetrics) == 0:
		return nil, fmt.Errorf("_aws has no CloudWatchMetrics")
	}
	units := []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
		"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
		"Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
		"Gigabits/Second", "Terabits/Second", "Count/Second", "None"}
	out := map[string]Metric{}
	for _, d := range meta.CloudWatchMetrics {
		if d.Namespace == "" || len(d.Namespace) > 255 {
			return nil, fmt.Errorf("namespace %q", d.Namespace)
		}
		if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			return nil, fmt.Errorf("%d metrics in one directive", len(d.Metrics))
		}
		dims := map[string]string{}
		for _, set := range d.Dimensions {
			if len(set) > 30 {
				return nil, fmt.Errorf("a dimension set of %d", len(set))
			}
			for _, name := range set {
				var v string
				if err := json.Unmarshal(root[name], &v); err != nil {
					return nil, fmt.Errorf("dimension %s is not a string field of the line", name)
				}
				dims[name] = v
			}
		}
		for _, m := range d.Metrics {
			var v float64
			if err := json.Unmarshal(root[m.Name], &v); err != nil {
				return nil, fmt.Errorf("metric %s is not a numeric field of the line", m.Name)
			}
			if m.Unit != "" && !slices.Contains(units, m.Unit) {
				return nil, fmt.Errorf("metric %s has unit %q, which CloudWatch does not know", m.Name, m.Unit)
			}
			out[m.Name] = Metric{Namespace: d.Namespace, Dimensions: dims, Unit: m.Unit, Value: v}
		}
	}
	return out, nil
}
