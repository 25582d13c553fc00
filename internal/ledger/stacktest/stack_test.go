package stacktest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"annals/internal/kit/testlog"
	"annals/internal/ledger/demo"
	"annals/internal/ledger/explorer"
	"annals/internal/ledger/functions"
	"annals/internal/ledger/journey"
	"annals/internal/ledger/openapi/openapitest"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/localstack"
)

// startStack runs the whole stack as `make local` does, on a free port,
// against moto.
func startStack(t testing.TB) (*localstack.Stack, *testlog.Buffer) {
	t.Helper()
	s, logs := startStackOver(t, awstest.Config(t, "DYNAMODB"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stack logs:\n%s", logs.String())
		}
	})
	return s, logs
}

// startStackOver is startStack with the AWS configuration every function
// and event source of the stack uses (a test's own HTTP client, say). It
// leaves the logs to the test: a long run's are too many to print whole.
func startStackOver(t testing.TB, cfg aws.Config) (*localstack.Stack, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	// The functions log to a file as well, as `make local` has them, for
	// the journeys the explorer shows.
	logPath := filepath.Join(t.TempDir(), "annals.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	s, err := localstack.Start(t.Context(), localstack.Config{
		Template:  awstest.Template(t),
		AWS:       cfg,
		Prefix:    awstest.Name(t, "local"),
		Addr:      "127.0.0.1:0",
		Tenant:    "local",
		Actor:     "local-user",
		Log:       slog.New(slog.NewJSONHandler(io.MultiWriter(logs, logFile), nil)),
		Functions: functions.Wires(),
		Interval:  20 * time.Millisecond,
		Views:     views.Tables(),
		Pages:     map[string]http.Handler{explorer.Path: explorer.Handler(), journey.Pattern: journey.Handler(logPath)},
		OpenAPI:   openapitest.Load(t).JSON,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, logs
}

// The README's walkthrough, over HTTP, against the local stack: commands
// reach the views through moto's stream, the fan-out, Kinesis and the
// projector, and every read converges.
func TestWalkthroughOnTheLocalStack(t *testing.T) {
	t.Parallel()
	s, logs := startStack(t)
	var out bytes.Buffer
	w := &demo.Walkthrough{URL: s.URL, Out: &out, Converge: 30 * time.Second}
	if err := w.Run(t.Context()); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"$ curl -X POST '" + s.URL + "/accounts'", "201 {", "422 {", "Every step answered as expected."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out.String())
		}
	}

	// The status shows both consumers at work and nothing dead-lettered.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Status(context.Background())
		byFn := map[string]localstack.Consumer{}
		for _, c := range st {
			byFn[c.Function] = c
		}
		f, p := byFn["FanoutFunction"], byFn["ProjectorFunction"]
		if f.Delivered >= 3 && p.Delivered >= 3 && f.Behind == 0 && p.Behind == 0 {
			if p.DeadLetters != 0 || f.Failed+p.Failed != 0 {
				t.Errorf("status %+v, want no failures and no dead letters", st)
			}
			if lines := localstack.FormatStatus(st); len(lines) != 3 || !strings.Contains(strings.Join(lines, "\n"), "dead letters") {
				t.Errorf("status lines %q", lines)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the walkthrough's commits delivered: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{`"function":"CommandFunction"`, `"function":"QueryFunction"`, `"msg":"projector"`, `"component":"gateway"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the stack's log lacks %s", want)
		}
	}
}

// An unknown route gets API Gateway's own answer; a function's problem
// comes through untouched.
func TestLocalStackErrors(t *testing.T) {
	t.Parallel()
	s, _ := startStack(t)
	for _, c := range []struct {
		method, path, body string
		status             int
		contains           string
	}{
		// The template's $default route: the command function's problem.
		{"GET", "/nowhere", "", 404, `"type":"urn:annals:problem:route-not-found"`},
		{"POST", "/accounts", `{"owner":`, 400, "problem"},
		{"GET", "/accounts/none", "", 404, "problem"},
	} {
		status, body := request(t, s.URL, c.method, c.path, c.body)
		if status != c.status || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s = %d %s, want %d with %s", c.method, c.path, status, body, c.status, c.contains)
		}
	}
}

func request(t testing.TB, base, method, path, body string) (int, string) {
	t.Helper()
	resp, b, err := demo.Send(t.Context(), http.DefaultClient, base, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Two keyed deposits racing on one account: the loser's guarded
// transaction is refused. On moto as shipped, a refused transaction left
// every stream consumer reading a dead shard, and the views stayed at the
// account's opening for good. Three rounds, then the view must show them
// all.
func TestViewsFollowRacingKeyedDeposits(t *testing.T) {
	t.Parallel()
	s, _ := startStack(t)
	id := openAccount(t, s.URL, "racer")
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				req, err := http.NewRequestWithContext(t.Context(), "POST", s.URL+"/accounts/"+id+"/deposits", strings.NewReader(`{"amount":5}`))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("race-%d-%d", round, i))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b, _ := io.ReadAll(resp.Body)
					t.Errorf("round %d deposit %d: %d %s", round, i, resp.StatusCode, b)
				}
			})
		}
		wg.Wait()
	}
	deadline := time.Now().Add(30 * time.Second)
	for viewVersion(t, s.URL, id) < 7 {
		if time.Now().After(deadline) {
			t.Fatalf("the view stayed at version %d, want 7 (open and six deposits)", viewVersion(t, s.URL, id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
