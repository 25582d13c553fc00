// Package emf turns a function's JSON log line into CloudWatch metrics: the
// embedded metric format, an _aws member that names which of the line's
// numeric fields CloudWatch Logs extracts as metrics, under which namespace
// and dimensions. The line stays a log line with all its fields; the
// metrics cost no request (CloudWatch reads them from the logs) and appear
// only for the hours in which lines arrive.
package emf

import (
	"log/slog"
	"time"
)

// Units CloudWatch knows, as the metrics here use them.
const (
	Milliseconds = "Milliseconds"
	Count        = "Count"
)

// Metric declares one numeric field of the line as a metric.
type Metric struct {
	Name string // the field's key, and the metric's name
	Unit string
}

// Dimension is a name and value every metric of a line is recorded under.
type Dimension struct{ Name, Value string }

// Metrics declares the metrics of a function's lines: one namespace and
// one set of dimensions (each a metric of its own in CloudWatch, so few).
// A nil *Metrics declares none, and its lines are plain log lines.
type Metrics struct {
	namespace  string
	dimensions []Dimension
}

// New returns the declarations of a function's metrics in namespace, each
// recorded under dimensions.
func New(namespace string, dimensions ...Dimension) *Metrics {
	return &Metrics{namespace: namespace, dimensions: dimensions}
}

// directive is the _aws member (the format's "metadata").
type directive struct {
	Timestamp         int64  `json:"Timestamp"` // Unix milliseconds
	CloudWatchMetrics []sets `json:"CloudWatchMetrics"`
}

type sets struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []Metric   `json:"Metrics"`
}

// Args returns, as slog key-value pairs to add to a line, the _aws member
// that declares metrics, and the dimensions' values; the line itself
// must carry each metric's field, with a number. With no metrics, or a nil
// m, it returns nothing.
func (m *Metrics) Args(metrics ...Metric) []any {
	if m == nil || len(metrics) == 0 {
		return nil
	}
	names := make([]string, len(m.dimensions))
	args := make([]any, 0, 2+2*len(m.dimensions))
	for i, d := range m.dimensions {
		names[i] = d.Name
		args = append(args, slog.String(d.Name, d.Value))
	}
	d := directive{
		Timestamp:         time.Now().UnixMilli(),
		CloudWatchMetrics: []sets{{Namespace: m.namespace, Dimensions: [][]string{names}, Metrics: metrics}},
	}
	return append([]any{slog.Any("_aws", d)}, args...)
}
