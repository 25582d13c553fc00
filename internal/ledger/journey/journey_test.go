package journey_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"annals/internal/ledger/journey"
)

// logFile writes the lines of a command's path, out of order and mixed
// with another request's, as the local stack's functions log them.
func logFile(t *testing.T) string {
	t.Helper()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(ms int) string { return t0.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano) }
	lines := []string{
		fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"projection applied a commit","function":"ProjectorFunction","view":"accounts","stream":"acme#account#a1","version":3,"lastVersion":4,"correlationId":"c-1","sinceCommitMs":90,"traceId":"1-b"}`, at(100)),
		fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"command","function":"CommandFunction","correlationId":"c-1","method":"POST","path":"/accounts/a1/deposits","status":200,"latencyMs":12.5,"stream":"acme#account#a1","version":3,"lastVersion":4,"traceId":"1-a"}`, at(10)),
		fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"command","function":"CommandFunction","correlationId":"c-2","method":"POST","path":"/accounts","status":201,"latencyMs":9}`, at(11)),
		`not json, and names "c-1"`,
		fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"fanout sent a commit","function":"FanoutFunction","stream":"acme#account#a1","version":3,"lastVersion":4,"correlationId":"c-1","shardId":"shardId-000","kinesisSequenceNumber":"42","sinceCommitMs":30}`, at(40)),
		fmt.Sprintf(`{"time":%q,"level":"WARN","msg":"something odd","function":"FanoutFunction","correlationId":"c-1"}`, at(50)),
	}
	path := filepath.Join(t.TempDir(), "annals.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAJourneyIsTheCommandsLinesInTimeOrderFromTheRequest(t *testing.T) {
	t.Parallel()
	lines, read, err := journey.ReadFile(logFile(t), "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 || !strings.Contains(read, "read 6 line(s)") {
		t.Fatalf("%d lines, %q; want the 4 of c-1 out of 6", len(lines), read)
	}
	j := journey.Assemble("c-1", lines)
	type row struct {
		name, function, stream string
		version, last          int64
		since                  float64
		duration               string
	}
	var got []row
	for _, s := range j.Steps {
		d := "-"
		if s.DurationMs != nil {
			d = fmt.Sprint(*s.DurationMs)
		}
		got = append(got, row{s.Name, s.Function, s.Stream, s.Version, s.LastVersion, s.SinceMs, d})
	}
	want := []row{
		{"request", "CommandFunction", "", 0, 0, 0, "12.5"},
		{"commit", "CommandFunction", "acme#account#a1", 3, 4, 12.5, "-"},
		{"fan-out", "FanoutFunction", "acme#account#a1", 3, 4, 42.5, "30"},
		{"warn", "FanoutFunction", "", 0, 0, 52.5, "-"},
		{"view accounts", "ProjectorFunction", "acme#account#a1", 3, 4, 102.5, "90"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("steps\n%v\nwant\n%v", got, want)
	}
	if j.TookMs != 102.5 || fmt.Sprint(j.Traces) != "[1-a 1-b]" {
		t.Errorf("took %v ms, traces %v", j.TookMs, j.Traces)
	}
	if w := j.Steps[2].What; w != "acme#account#a1 v3..4 to Kinesis shardId-000, sequence number 42 (30 ms after the commit)" {
		t.Errorf("the fan-out says %q", w)
	}
}

func TestTheHandlerAnswersAJourneyAsJSON(t *testing.T) {
	t.Parallel()
	path := logFile(t)
	mux := http.NewServeMux()
	mux.Handle(journey.Pattern, journey.Handler(path))
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{journey.Path + "c-1", http.StatusOK, `"step":"view accounts"`},
		{journey.Path + "c-2", http.StatusOK, `"step":"request"`},
		{journey.Path + "nobody", http.StatusNotFound, "no line of " + path + " names correlation id nobody"},
		{journey.Path + "a%20b", http.StatusBadRequest, "is not a correlation id"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s, want %d and %q", c.path, rec.Code, rec.Body, c.status, c.want)
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, journey.Path+"c-1", nil))
	var a journey.Answer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	if a.CorrelationID != "c-1" || len(a.Steps) != 5 || !strings.Contains(a.Read, path) {
		t.Errorf("answer %+v", a)
	}

	rec = httptest.NewRecorder()
	mux = http.NewServeMux()
	mux.Handle(journey.Pattern, journey.Handler(filepath.Join(t.TempDir(), "none.log")))
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, journey.Path+"c-1", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "none.log") {
		t.Errorf("without a log file: %d %s", rec.Code, rec.Body)
	}
}
