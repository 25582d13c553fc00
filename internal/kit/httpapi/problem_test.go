package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
)

// An answer is not kept by caches unless its route says it may be: a
// route's own Cache-Control stands, every other answer (problems
// included) is no-store.
func TestCacheControl(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string]string
		status  int
		want    string
	}{
		{"a route that says nothing", nil, http.StatusOK, "no-store"},
		{"a route that allows revalidated caching", map[string]string{"Cache-Control": "private, no-cache"}, http.StatusOK, "private, no-cache"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := httpapi.JSON(tc.status, map[string]int{"version": 1}, tc.headers, "corr-1")
			if got := resp.Headers["Cache-Control"]; got != tc.want {
				t.Errorf("Cache-Control %q, want %q", got, tc.want)
			}
		})
	}
	if got := httpapi.NewProblem(httpapi.KindNotFound, "").Response("corr-1").Headers["Cache-Control"]; got != "no-store" {
		t.Errorf("a problem's Cache-Control %q, want no-store", got)
	}
}

// An event newer than the code is the deployment's fault, not the
// client's, and passes: a 503 schema-ahead with Retry-After, wrapped or not.
func TestSchemaAheadProblem(t *testing.T) {
	err := fmt.Errorf("load: %w", &eventstore.SchemaTooNewError{Type: "Noted", Version: 3, Readable: 2})
	p := httpapi.ProblemFor(err)
	if p.Kind != httpapi.KindSchemaAhead || p.Status != http.StatusServiceUnavailable || p.RetryAfter <= 0 || !strings.Contains(p.Detail, "version 3") {
		t.Errorf("problem %+v", p)
	}
}
