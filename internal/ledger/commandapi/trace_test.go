package commandapi_test

import (
	"context"
	"testing"

	"annals/internal/ledger/app"
)

// A command in an invocation X-Ray records keeps the trace id with its
// commit, and its line names the trace with the stream and version it
// wrote, for following the command (annals trace); one X-Ray does not
// record keeps none.
func TestACommitKeepsTheTraceOfItsRequest(t *testing.T) {
	const trace = "1-5759e988-bd862e3fe1be46a994272793"
	f := newFixture(t)
	for _, c := range []struct {
		header, want string
	}{
		{"Root=" + trace + ";Parent=53995c3f42cd8ad8;Sampled=1", trace},
		{"Root=" + trace + ";Parent=53995c3f42cd8ad8;Sampled=0", ""},
	} {
		f.logs.Reset()
		//lint:ignore SA1029 the key is aws-lambda-go's, a plain string
		ctx := context.WithValue(t.Context(), "x-amzn-trace-id", c.header)
		r := req{path: "/accounts", body: `{"owner":"alice","currency":"EUR"}`}
		resp, err := f.h.Handle(ctx, r.event())
		if err != nil {
			t.Fatal(err)
		}
		id := expect(t, resp, 201, "")["accountId"].(string)
		stream, _ := app.AccountStream("t1", id)
		page, err := f.store.Read(t.Context(), stream, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := page.Events[0].TraceID; got != c.want {
			t.Errorf("%s: the commit keeps trace %q, want %q", c.header, got, c.want)
		}
		lines, err := f.logs.Lines()
		if err != nil || len(lines) != 1 {
			t.Fatalf("lines %v, %v", lines, err)
		}
		l := lines[0]
		if got, _ := l["traceId"].(string); got != c.want {
			t.Errorf("%s: the line names trace %q, want %q", c.header, got, c.want)
		}
		if l["stream"] != stream.Key() || l["version"] != float64(1) || l["correlationId"] != resp.Headers["X-Correlation-Id"] {
			t.Errorf("line %v: want stream %s, version 1 and the answer's correlation id", l, stream)
		}
	}
}
