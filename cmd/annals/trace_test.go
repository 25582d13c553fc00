package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"annals/internal/kit/awsconfig"
	"annals/internal/ledger/functions"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/localstack"
)

// post sends a JSON command to the local stack under a correlation id and
// returns the answer's body.
func post(t *testing.T, url, path, corr, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Correlation-Id", corr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d %s, want %d", path, resp.StatusCode, b, want)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// trace follows a transfer through the local stack, as `make local` runs
// it, from the functions' log file: the request, its commit, the fan-out,
// each view, and the process manager's steps, each commit of which the
// fan-out and the views take on in turn.
func TestTraceCommand(t *testing.T) {
	t.Parallel()
	logPath := filepath.Join(t.TempDir(), "annals.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	stack, err := localstack.Start(t.Context(), localstack.Config{
		Template: awstest.Template(t), AWS: awstest.Config(t, "DYNAMODB"), Prefix: awstest.Name(t, "local"),
		Addr: "127.0.0.1:0", Tenant: "local", Actor: "local-user",
		Log:       awsconfig.NewLogger(logFile, "info"), // as make local writes it
		Functions: functions.Wires(), Interval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stack.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	from := post(t, stack.URL, "/accounts", "open-1", `{"owner":"ann","currency":"EUR"}`, 201)["accountId"].(string)
	to := post(t, stack.URL, "/accounts", "open-2", `{"owner":"bob","currency":"EUR"}`, 201)["accountId"].(string)
	post(t, stack.URL, "/accounts/"+from+"/deposits", "deposit-1", `{"amount":500}`, 200)
	const corr = "trace-test-transfer-1"
	tr := post(t, stack.URL, "/transfers", corr, fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":200}`, from, to), 202)["transferId"].(string)

	// The path is whole once the last commit (the credit) is in every
	// view that keeps its streams: poll the trace until it shows that.
	transfer, source, dest := "local#transfer#"+tr, "local#account#"+from, "local#account#"+to
	want := []string{
		"request", "POST /transfers: 202",
		"commit", transfer + " v1",
		"fan-out", transfer + " v1 to Kinesis shardId-",
		"view transfers", transfer + " v1 stored",
		"transfer", tr + " debit: " + transfer + "@2, " + source + "@4",
		tr + " credit: " + transfer + "@3, " + dest + "@2, " + source + "@5",
		"view accounts", "view history", "view statements",
		dest + " v2 stored",
		transfer + " v3 stored",
	}
	env := map[string]string{}
	var stdout, stderr string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var code int
		code, stdout, stderr = runCLI(t, env, "trace", corr, "--log", logPath)
		missing := ""
		for _, w := range want {
			if !strings.Contains(stdout, w) {
				missing = w
				break
			}
		}
		if code == exitOK && missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trace never showed %q (exit %d):\n%s\n%s", missing, code, stdout, stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%s\n%s", stdout, stderr)

	// Only this request's lines, in time order, timed from the request.
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if !strings.HasPrefix(lines[0], corr+": ") || !strings.HasPrefix(lines[2], "TIME") {
		t.Fatalf("header:\n%s", stdout)
	}
	var last time.Time
	for i, l := range lines[3:] {
		f := strings.Fields(l)
		at, err := time.Parse(timeFormat, f[0])
		if err != nil {
			t.Fatalf("row %q: %v", l, err)
		}
		if at.Before(last) {
			t.Errorf("row %q comes before the one above it", l)
		}
		last = at
		if i == 0 && (f[1] != "+0ms" || f[2] != "request") {
			t.Errorf("first row %q, want the request at +0ms", l)
		}
		if strings.Contains(l, "open-") || strings.Contains(l, "deposits") {
			t.Errorf("row %q is another request's", l)
		}
	}
	if !strings.Contains(stderr, "line(s) name "+corr) {
		t.Errorf("no summary line: %q", stderr)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"trace"}, exitUsage, "name one correlation id"},
		{[]string{"trace", "a b"}, exitUsage, "is not a correlation id"},
		{[]string{"trace", corr, "--since", "1h"}, exitUsage, "go with --insights"},
		{[]string{"trace", corr, "--insights", "--log", logPath}, exitUsage, "give one"},
		{[]string{"trace", "nobody-sent-this", "--log", logPath}, exitFailed, "no line names correlation id nobody-sent-this"},
		{[]string{"trace", corr, "--log", filepath.Join(t.TempDir(), "none.log")}, exitFailed, "make local writes"},
	} {
		code, _, stderr := runCLI(t, env, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("annals %s: exit %d, %q; want %d and %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
		}
	}
}

// With --insights, trace prints the Logs Insights query over the
// functions' log groups and, with credentials and the groups named, runs
// it and prints the path from what it finds.
func TestTraceCommandWithInsights(t *testing.T) {
	t.Parallel()
	const corr = "insights-1"
	logs := cloudwatchlogs.NewFromConfig(awstest.Config(t, "LOGS"))
	now := time.Now().UTC()
	lines := map[string][]string{
		"CommandLogs": {
			fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"command","correlationId":%q,"method":"POST","path":"/accounts/a1/deposits","status":200,"latencyMs":12.5,"stream":"acme#account#a1","version":3,"traceId":"1-5759e988-bd862e3fe1be46a994272793"}`, now.Format(time.RFC3339Nano), corr),
			fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"command","correlationId":"another","method":"POST","path":"/accounts","status":201,"latencyMs":9}`, now.Format(time.RFC3339Nano)),
		},
		"ProjectorLogs": {
			fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"projection applied a commit","view":"accounts","stream":"acme#account#a1","version":3,"lastVersion":3,"correlationId":%q,"sinceCommitMs":180}`, now.Add(200*time.Millisecond).Format(time.RFC3339Nano), corr),
		},
	}
	var groups []string
	for logical, msgs := range lines {
		group := awstest.Name(t, logical)
		groups = append(groups, group)
		if _, err := logs.CreateLogGroup(t.Context(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			logs.DeleteLogGroup(context.Background(), &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(group)})
		})
		if _, err := logs.CreateLogStream(t.Context(), &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String("s")}); err != nil {
			t.Fatal(err)
		}
		var events []cwtypes.InputLogEvent
		for _, m := range msgs {
			events = append(events, cwtypes.InputLogEvent{Message: aws.String(m), Timestamp: aws.Int64(now.UnixMilli())})
		}
		if _, err := logs.PutLogEvents(t.Context(), &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("s"), LogEvents: events}); err != nil {
			t.Fatal(err)
		}
	}

	stdout, stderr := runOK(t, map[string]string{"LOG_GROUPS": strings.Join(groups, ",")}, "trace", corr, "--insights", "--since", "1h")
	checkContains(t, "the query", stdout,
		`| filter correlationId = "insights-1"`, "aws logs start-query --log-group-names "+strings.Join(groups, " "), "--start-time $(( $(date +%s) - 3600 ))")
	checkContains(t, "the path", stdout,
		"insights-1: 3 step(s) over 213ms",
		"+0ms    request",
		"POST /accounts/a1/deposits: 200 in 12.5 ms",
		"+13ms   commit", "acme#account#a1 v3",
		"view accounts", "acme#account#a1 v3 stored (180 ms after the commit)",
		"https://console.aws.amazon.com/cloudwatch/home?region=", "#xray:traces/1-5759e988-bd862e3fe1be46a994272793",
	)
	if strings.Contains(stdout, "another") || strings.Contains(stdout, "POST /accounts:") {
		t.Errorf("another request's line is on the path:\n%s", stdout)
	}
	if !strings.Contains(stderr, "2 group(s)") || !strings.Contains(stderr, "2 line(s) name insights-1") {
		t.Errorf("summary %q", stderr)
	}

	// Without the groups, the query is printed and not run.
	stdout, stderr = runOK(t, nil, "trace", corr, "--insights")
	checkContains(t, "the query alone", stdout, `| filter correlationId = "insights-1"`, "<the stack's output LogGroupNames, space-separated>")
	if !strings.Contains(stderr, "the query is not run") || strings.Contains(stdout, "step(s)") {
		t.Errorf("without groups: %q\n%s", stderr, stdout)
	}
}
