package commandapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// No request, however malformed, panics the handler or gets a 5xx: bad
// input is always the client's 4xx, with a problem body.
func FuzzCommandRequest(f *testing.F) {
	seeds := []struct{ method, path, contentType, body, ifMatch, key string }{
		{"POST", "/accounts", "application/json", `{"owner":"a","currency":"EUR"}`, "", ""},
		{"POST", "/accounts/acc-demo-1/deposits", "application/json", `{"amount":5}`, `"2"`, "k"},
		{"POST", "/accounts/acc-demo-1/withdrawals", "application/json; charset=utf-8", `{"amount":1e3}`, "", ""},
		{"POST", "/accounts/acc-demo-2/close", "", "", "", ""},
		{"POST", "/accounts//deposits", "application/json", `{"amount":-1}`, "*", "\x00"},
		{"PUT", "/accounts/x/close", "text/plain", `{`, `W/"x"`, ""},
		{"POST", "/accounts", "application/merge-patch+json", `{"owner":"\u0000","currency":"EUR","overdraftLimit":9223372036854775807}`, "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.contentType, s.body, s.ifMatch, s.key)
	}
	f.Fuzz(func(t *testing.T, method, path, contentType, body, ifMatch, key string) {
		fx := newFixture(t)
		seedDemo(t, fx.store)
		headers := map[string]string{}
		for k, v := range map[string]string{"content-type": contentType, "if-match": ifMatch, "idempotency-key": key} {
			if v != "" {
				headers[k] = v
			}
		}
		r := req{method: method, path: path, body: body, headers: headers, tenant: "demo"}
		ev := r.event()
		if body == "" {
			delete(ev.Headers, "content-type")
			if contentType != "" {
				ev.Headers["content-type"] = contentType
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		resp, err := fx.h.Handle(ctx, ev)
		if ctx.Err() != nil {
			t.Fatalf("%s %s %q: still running after 5 s", method, path, body)
		}
		if err != nil {
			t.Fatalf("handler error: %v", err)
		}
		if resp.StatusCode >= 500 || resp.StatusCode < 200 {
			t.Fatalf("%s %s %q: status %d %s", method, path, body, resp.StatusCode, resp.Body)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
			t.Fatalf("body %q is not a JSON object: %v", resp.Body, err)
		}
	})
}
