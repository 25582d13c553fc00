package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/emf"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/xray"
)

// Line is the one log line of a request: how it ended (the problem it
// answered and, when the client sees only the problem's kind, the error
// behind it) and what its route adds.
type Line struct {
	problem string
	err     error
	attrs   []any
}

// Add puts key=value on the line, after what every request reports (keys
// of the route's own: not correlationId, method, path, status, latencyMs,
// ddbRequests, rcu, wcu, traceId, problem, error, _aws or a dimension of
// the metrics); a key added again takes the new value.
func (l *Line) Add(key string, value any) {
	for i := 0; i < len(l.attrs); i += 2 {
		if l.attrs[i] == key {
			l.attrs[i+1] = value
			return
		}
	}
	l.attrs = append(l.attrs, key, value)
}

// Fail answers p and notes its kind on the line.
func (l *Line) Fail(p *Problem, corr string) events.APIGatewayV2HTTPResponse {
	l.problem = p.Kind
	return p.Response(corr)
}

// FailErr answers err through the one mapping (ProblemFor). The error
// behind a problem the client sees only the kind of (internal, throttled,
// unavailable, outcome unknown) stays on the line.
func (l *Line) FailErr(err error, corr string) events.APIGatewayV2HTTPResponse {
	p := ProblemFor(err)
	if p.Kind == KindInternal || p.Kind == KindOutcomeUnknown || p.Kind == KindThrottled || p.Kind == KindUnavailable {
		l.err = err
	}
	return l.Fail(p, corr)
}

// answer runs serve, turning a panic into the internal problem it is, so
// that a bug answers problem+json like any failure, with its cause and
// stack on the line, and the function lives on to serve the next request.
func answer(ctx context.Context, corr string, l *Line, serve func(ctx context.Context, corr string, l *Line) events.APIGatewayV2HTTPResponse) (resp events.APIGatewayV2HTTPResponse) {
	defer func() {
		if r := recover(); r != nil {
			resp = l.FailErr(fmt.Errorf("panic: %v\n%s", r, debug.Stack()), corr)
		}
	}()
	return serve(ctx, corr, l)
}

// lineMetrics are the fields of a request's line that metrics declares.
var lineMetrics = []emf.Metric{
	{Name: "latencyMs", Unit: emf.Milliseconds},
	{Name: "ddbRequests", Unit: emf.Count},
	{Name: "rcu", Unit: emf.Count},
	{Name: "wcu", Unit: emf.Count},
}

// Serve answers one request with serve and logs its one line, at info, or
// at error for a 5xx (a warning for throttling): the correlation id, method, path, status and latency,
// the DynamoDB requests and capacity a meter on the context counted, the
// X-Ray trace id when X-Ray records the invocation, then what serve added.
// metrics, if not nil, makes the latency, requests and capacity metrics
// too (emf).
func Serve(ctx context.Context, req *events.APIGatewayV2HTTPRequest, log *slog.Logger, metrics *emf.Metrics, msg string, newID func() string,
	serve func(ctx context.Context, corr string, l *Line) events.APIGatewayV2HTTPResponse) events.APIGatewayV2HTTPResponse {
	start := time.Now()
	meter := &eventstore.Meter{}
	ctx = eventstore.WithMeter(ctx, meter)
	corr := CorrelationID(req, newID)
	l := &Line{}
	resp := answer(ctx, corr, l, serve)

	u := meter.Usage()
	attrs := append([]any{
		"correlationId", corr, "method", req.RequestContext.HTTP.Method, "path", req.RawPath,
		"status", resp.StatusCode, "latencyMs", float64(time.Since(start).Microseconds()) / 1000,
		"ddbRequests", u.Total(), "rcu", u.ReadUnits, "wcu", u.WriteUnits,
	}, metrics.Args(lineMetrics...)...)
	if trace := xray.FromContext(ctx); trace != "" {
		attrs = append(attrs, "traceId", trace)
	}
	attrs = append(attrs, l.attrs...)
	if l.problem != "" {
		attrs = append(attrs, "problem", l.problem)
	}
	if l.err != nil {
		attrs = append(attrs, "error", l.err.Error())
	}
	// Throttling is capacity, which DynamoDB's own metrics alarm on, not a
	// failure of the function: a warning, where every other 5xx is an error.
	level := slog.LevelInfo
	switch {
	case l.problem == KindThrottled:
		level = slog.LevelWarn
	case resp.StatusCode >= 500:
		level = slog.LevelError
	}
	log.Log(ctx, level, msg, attrs...)
	return resp
}
