package httpapitest

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/httpapi"
)

// Body is a JSON object a function answered.
type Body map[string]any

// Expect checks a response's status and returns its body: with problem
// empty, a JSON success; otherwise a problem document (RFC 9457) of that
// status whose type is httpapi.ProblemTypePrefix+problem.
func Expect(t testing.TB, resp events.APIGatewayV2HTTPResponse, status int, problem string) Body {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d (%s), want %d", resp.StatusCode, resp.Body, status)
	}
	var b Body
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", resp.Body, err)
	}
	if problem == "" {
		if ct := resp.Headers["Content-Type"]; ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		return b
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if b["type"] != httpapi.ProblemTypePrefix+problem || int(b["status"].(float64)) != status {
		t.Fatalf("problem %v, want type %s status %d", b, problem, status)
	}
	return b
}
