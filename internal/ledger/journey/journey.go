// Package journey follows one command through the functions from their
// JSON log lines: the request, its commit, the fan-out to Kinesis, each
// view that stored the commit and each step of the transfers process
// manager, in time order and timed from the request. `annals trace` prints
// it; the local stack answers it at Pattern for the event explorer.
package journey

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CorrelationIDs is what the functions accept as a correlation id
// (httpapi.CorrelationID), and so what may go into a query unquoted.
var CorrelationIDs = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Line is one JSON log line of a function, and where it came from.
type Line struct {
	At     time.Time
	Source string // the function (local) or the log group (AWS)
	Fields map[string]any
}

// ReadFile returns the lines of the log file whose correlationId is corr,
// and what was read: lines, size, time.
func ReadFile(path, corr string) ([]Line, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	began := time.Now()
	var out []Line
	n, size := 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	needle := []byte(`"` + corr + `"`)
	for sc.Scan() {
		b := sc.Bytes()
		n, size = n+1, size+len(b)+1
		if !bytes.Contains(b, needle) {
			continue
		}
		if l, ok := Parse(b, "", corr); ok {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	return out, fmt.Sprintf("read %d line(s), %.1f MB, of %s in %s", n, float64(size)/1e6, path, time.Since(began).Round(time.Millisecond)), nil
}

// Parse decodes a JSON line that names corr as its correlation id; source
// is where it came from when the line does not say (its function).
func Parse(b []byte, source, corr string) (Line, bool) {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m["correlationId"] != corr {
		return Line{}, false
	}
	l := Line{Source: source, Fields: m}
	if fn, ok := m["function"].(string); ok {
		l.Source = fn
	}
	if s, ok := m["time"].(string); ok {
		l.At, _ = time.Parse(time.RFC3339Nano, s)
	}
	return l, true
}

// Step is one point of a command's path.
type Step struct {
	At time.Time `json:"at"`
	// SinceMs is the time from the request (Journey.Start) to the step.
	SinceMs float64 `json:"sinceMs"`
	// Name is request, commit, fan-out, "view NAME", transfer, or a
	// line's level (warn, error) for any other line.
	Name     string `json:"step"`
	Function string `json:"function"`
	// Stream and its versions the step wrote or carried: Version to
	// LastVersion; none for a request.
	Stream      string `json:"stream,omitempty"`
	Version     int64  `json:"version,omitempty"`
	LastVersion int64  `json:"lastVersion,omitempty"`
	// DurationMs is what the line measured of the step: the request's
	// latency; for the fan-out and a view, the time from the commit to
	// the step. Null when the line measures nothing.
	DurationMs *float64 `json:"durationMs"`
	What       string   `json:"what"`
}

// Journey is a command's path.
type Journey struct {
	CorrelationID string `json:"correlationId"`
	// Start is the first request's start, or the first line's time when
	// no request line is there.
	Start time.Time `json:"start"`
	// Took is from Start to the last step.
	TookMs float64 `json:"tookMs"`
	Steps  []Step  `json:"steps"`
	// Traces are the X-Ray trace ids the lines name, sorted.
	Traces []string `json:"traces"`
}

// Assemble orders what the lines say of the command's path and times
// each step from the request.
func Assemble(corr string, lines []Line) Journey {
	j := Journey{CorrelationID: corr, Steps: []Step{}, Traces: []string{}}
	traces := map[string]bool{}
	for _, l := range lines {
		j.Steps = append(j.Steps, steps(l)...)
		if id, ok := l.Fields["traceId"].(string); ok && id != "" {
			traces[id] = true
		}
	}
	j.Traces = append(j.Traces, slices.Sorted(maps.Keys(traces))...)
	if len(j.Steps) == 0 {
		return j
	}
	slices.SortStableFunc(j.Steps, func(a, b Step) int { return a.At.Compare(b.At) })
	j.Start = j.Steps[0].At
	if i := slices.IndexFunc(j.Steps, func(s Step) bool { return s.Name == "request" }); i >= 0 {
		j.Start = j.Steps[i].At
	}
	for i := range j.Steps {
		j.Steps[i].SinceMs = millis(j.Steps[i].At.Sub(j.Start))
	}
	j.TookMs = millis(j.Steps[len(j.Steps)-1].At.Sub(j.Start))
	return j
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// steps reads what a line says of the command's path.
func steps(l Line) []Step {
	f := l.Fields
	str := func(k string) string { s, _ := f[k].(string); return s }
	num := func(k string) float64 { n, _ := f[k].(float64); return n }
	measured := func(k string) *float64 {
		if n, ok := f[k].(float64); ok {
			return &n
		}
		return nil
	}
	version, last := int64(num("version")), int64(num("lastVersion"))
	if last < version {
		last = version
	}
	versions := func() string {
		if last > version {
			return fmt.Sprintf("v%d..%d", version, last)
		}
		return fmt.Sprintf("v%d", version)
	}
	at, msg := l.At, str("msg")
	step := func(at time.Time, name, what string) Step {
		return Step{At: at, Name: name, Function: l.Source, Stream: str("stream"), Version: version, LastVersion: last, What: what}
	}
	switch {
	case msg == "command" || msg == "query":
		latency := time.Duration(num("latencyMs") * float64(time.Millisecond))
		status := int(num("status"))
		answer := fmt.Sprintf("%s %s: %d in %.1f ms", str("method"), str("path"), status, num("latencyMs"))
		if p := str("problem"); p != "" {
			answer += " (" + p + ")"
		}
		request := Step{At: at.Add(-latency), Name: "request", Function: l.Source, DurationMs: measured("latencyMs"), What: answer}
		out := []Step{request}
		if msg == "command" && status < 300 && str("stream") != "" {
			out = append(out, step(at, "commit", str("stream")+" "+versions()))
		}
		return out
	case msg == "fanout sent a commit":
		s := step(at, "fan-out", fmt.Sprintf("%s %s to Kinesis %s, sequence number %s (%d ms after the commit)",
			str("stream"), versions(), str("shardId"), str("kinesisSequenceNumber"), int64(num("sinceCommitMs"))))
		s.DurationMs = measured("sinceCommitMs")
		return []Step{s}
	case msg == "projection applied a commit":
		s := step(at, "view "+str("view"), fmt.Sprintf("%s %s stored (%d ms after the commit)",
			str("stream"), versions(), int64(num("sinceCommitMs"))))
		s.DurationMs = measured("sinceCommitMs")
		return []Step{s}
	case msg == "transfer step":
		var commits []string
		list, _ := f["commits"].([]any)
		for _, c := range list {
			if s, ok := c.(string); ok {
				commits = append(commits, s)
			}
		}
		return []Step{step(at, "transfer", fmt.Sprintf("%s %s: %s", str("transfer"), str("step"), strings.Join(commits, ", ")))}
	case strings.HasPrefix(msg, "projection quarantined"):
		s := step(at, "view "+str("view"), fmt.Sprintf("%s QUARANTINED at v%d: %s", str("stream"), version, str("reason")))
		s.LastVersion = version
		return []Step{s}
	}
	s := step(at, strings.ToLower(str("level")), msg)
	if s.Stream == "" {
		s.Version, s.LastVersion = 0, 0
	}
	return []Step{s}
}
