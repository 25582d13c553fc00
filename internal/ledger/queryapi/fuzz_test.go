package queryapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// No request, however malformed its path, query string or headers,
// panics the handler or gets a 5xx; every answer is a JSON object, except
// a 304's empty body.
func FuzzQueryRequest(f *testing.F) {
	seeds := []struct{ method, path, query, ifNoneMatch string }{
		{"GET", "/accounts/acc-1", "", ""},
		{"GET", "/accounts/acc-1", "version=2", `"2"`},
		{"GET", "/accounts/acc-1", "at=2026-03-01T09:00:03+01:00", "*"},
		{"GET", "/accounts/acc-1", "at=2026-03-01T09:00:03%2B01:00", ""},
		{"GET", "/accounts/acc-1", "minVersion=9223372036854775807", `W/"1", "2"`},
		{"GET", "/accounts", "owner=alice&limit=1", ""},
		{"GET", "/accounts", "owner=alice&cursor=eyJmIjoxLCJ0IjoidDEiLCJyIjoiR0VUIC9hY2NvdW50cyIsInMiOiJhbGljZSIsImEiOiJhY2MtMSJ9", ""},
		{"GET", "/accounts/acc-1/transactions", "limit=100&cursor=e30", ""},
		{"GET", "/accounts/acc-1/events", "fromVersion=2&limit=1", ""},
		{"GET", "/accounts/acc-1/events", "cursor=%ff%fe&limit=-1", ""},
		{"POST", "/accounts//events", "a=1&a=2;b", ""},
		{"GET", "/accounts/\x00/events", "fromVersion=1e3", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.ifNoneMatch)
	}
	fx := newFixture(f)
	a := fx.open(f, "t1", "acc-1", "alice")
	a.deposit(f, 10)
	a.withdraw(f, 5)
	a.project(f)
	f.Fuzz(func(t *testing.T, method, path, query, ifNoneMatch string) {
		r := req{method: method, path: path, query: query, headers: map[string]string{"If-None-Match": ifNoneMatch}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := fx.h.Handle(ctx, r.event())
		if ctx.Err() != nil {
			t.Fatalf("%s %s?%s: still running after 5 s", method, path, query)
		}
		if err != nil {
			t.Fatalf("handler error: %v", err)
		}
		if resp.StatusCode >= 500 || resp.StatusCode < 200 {
			t.Fatalf("%s %s?%s: status %d %s", method, path, query, resp.StatusCode, resp.Body)
		}
		if resp.StatusCode == 304 {
			if resp.Body != "" {
				t.Fatalf("304 with a body %q", resp.Body)
			}
			return
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
			t.Fatalf("body %q is not a JSON object: %v", resp.Body, err)
		}
	})
}
