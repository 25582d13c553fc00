package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/emf"
	"annals/internal/kit/emf/emftest"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/testlog"
)

// Every request writes one line: what all requests report, what its route
// added (a key added twice once, with its last value), the problem it
// answered, and the error only when the client sees no more than the
// problem's kind; a 5xx at error level.
func TestServeWritesOneLinePerRequest(t *testing.T) {
	ok := func(l *httpapi.Line, corr string) events.APIGatewayV2HTTPResponse {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}
	}
	failing := func(err error) func(l *httpapi.Line, corr string) events.APIGatewayV2HTTPResponse {
		return func(l *httpapi.Line, corr string) events.APIGatewayV2HTTPResponse { return l.FailErr(err, corr) }
	}
	cases := []struct {
		name      string
		answer    func(l *httpapi.Line, corr string) events.APIGatewayV2HTTPResponse
		status    int
		level     string
		problem   string
		logsError bool
	}{
		{"a success", ok, 200, "INFO", "", false},
		{"a refusal the client reads in full", failing(fmt.Errorf("deposit: %w", eventstore.ErrNotFound)), 404, "INFO", httpapi.KindNotFound, false},
		{"a problem answered as such", func(l *httpapi.Line, corr string) events.APIGatewayV2HTTPResponse {
			return l.Fail(httpapi.NewProblem(httpapi.KindPreconditionFailed, "changed"), corr)
		}, 412, "INFO", httpapi.KindPreconditionFailed, false},
		{"an internal failure", failing(errors.New("disk on fire")), 500, "ERROR", httpapi.KindInternal, true},
		{"throttling", failing(fmt.Errorf("put: %w", eventstore.ErrThrottled)), 503, "WARN", httpapi.KindThrottled, true},
		{"an outage of a read", failing(fmt.Errorf("get: %w", eventstore.ErrUnavailable)), 503, "ERROR", httpapi.KindUnavailable, true},
		{"an unknown outcome", failing(fmt.Errorf("put: %w", eventstore.ErrUnknownOutcome)), 503, "ERROR", httpapi.KindOutcomeUnknown, true},
		{"a panic", func(*httpapi.Line, string) events.APIGatewayV2HTTPResponse { panic("nil map") }, 500, "ERROR", httpapi.KindInternal, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs := &testlog.Buffer{}
			log := slog.New(slog.NewJSONHandler(logs, nil))
			req := &events.APIGatewayV2HTTPRequest{RawPath: "/accounts/a1/deposits", Headers: map[string]string{"x-correlation-id": "corr-1"}}
			req.RequestContext.HTTP.Method = "POST"
			resp := httpapi.Serve(context.Background(), req, log, nil, "command", func() string { return "new-id" },
				func(ctx context.Context, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
					l.Add("stream", "t1#account#a1")
					l.Add("version", 1)
					l.Add("version", 2)
					return c.answer(l, corr)
				})
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			lines, err := logs.Lines()
			if err != nil || len(lines) != 1 {
				t.Fatalf("lines %v (%v), want one", lines, err)
			}
			if n := strings.Count(logs.String(), `"version":`); n != 1 {
				t.Errorf("version written %d times: %s", n, logs.String())
			}
			l := lines[0]
			for k, want := range map[string]any{
				"msg": "command", "level": c.level, "correlationId": "corr-1", "method": "POST",
				"path": "/accounts/a1/deposits", "status": float64(c.status), "stream": "t1#account#a1",
				"version": float64(2), "ddbRequests": float64(0),
			} {
				if l[k] != want {
					t.Errorf("%s = %v, want %v", k, l[k], want)
				}
			}
			if got, _ := l["problem"].(string); got != c.problem {
				t.Errorf("problem %q, want %q", got, c.problem)
			}
			if c.problem != "" && resp.Headers["Content-Type"] != "application/problem+json" {
				t.Errorf("content type %q, want problem+json", resp.Headers["Content-Type"])
			}
			if _, ok := l["error"]; ok != c.logsError {
				t.Errorf("error on the line: %v, want %v", l["error"], c.logsError)
			}
		})
	}
}

// With metrics, the line is also the request's latency, DynamoDB requests
// and capacity as CloudWatch metrics; a sampled invocation's trace id is
// on it.
func TestServeLineIsMetricsAndNamesTheTrace(t *testing.T) {
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	req := &events.APIGatewayV2HTTPRequest{RawPath: "/accounts"}
	req.RequestContext.HTTP.Method = "POST"
	//lint:ignore SA1029 the key is aws-lambda-go's, a plain string
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	metrics := emf.New("annals", emf.Dimension{Name: "FunctionName", Value: "f"})
	httpapi.Serve(ctx, req, log, metrics, "command", func() string { return "id" },
		func(ctx context.Context, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
			eventstore.Record(ctx, "PutItem", 0, 1)
			return events.APIGatewayV2HTTPResponse{StatusCode: 201}
		})
	got, err := emftest.Read([]byte(logs.String()))
	if err != nil {
		t.Fatalf("%v: %s", err, logs.String())
	}
	for name, want := range map[string]float64{"ddbRequests": 1, "wcu": 1, "rcu": 0} {
		if m, ok := got[name]; !ok || m.Value != want || m.Dimensions["FunctionName"] != "f" {
			t.Errorf("metric %s = %+v, want %v by FunctionName f", name, m, want)
		}
	}
	if m, ok := got["latencyMs"]; !ok || m.Unit != emf.Milliseconds {
		t.Errorf("latency metric %+v", m)
	}
	if !logs.Contains(`"traceId":"1-5759e988-bd862e3fe1be46a994272793"`) {
		t.Errorf("no trace id: %s", logs.String())
	}
}
