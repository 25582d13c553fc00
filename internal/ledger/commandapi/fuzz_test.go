package commandapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"annals/internal/kit/httpapi"
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
		{"POST", "/accounts/acc-demo-1/deposits", "application/json", `{"amount":1,"Amount":500}`, `"1", W/"2", "3"`, ""},
		{"POST", "/accounts", "application/json", "{\"owner\":\"\xff\",\"currency\":\"EUR\",\"Owner\":\"\\ud800\"}", "*", "k2"},
		{"POST", "/transfers", "application/json", `{"fromAccountId":"acc-demo-1","toAccountId":"acc-demo-2","amount":1,"reference":"\u202e"}`, "", ""},
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

// A deposit is taken only as sent: whatever body the fuzzer makes, an
// accepted one has no member named twice in any case, names only the
// route's fields exactly, and holds no text that decoding would have
// replaced (invalid UTF-8, an unpaired surrogate escape). A refused one
// says which field.
func FuzzDepositBodyIsTakenAsSent(f *testing.F) {
	for _, s := range []string{
		`{"amount":5}`,
		`{"amount":5,"reference":"r\u00e9f \ud83d\ude00"}`,
		`{"amount":1,"amount":500}`,
		`{"amount":1,"Amount":500}`,
		`{"Amount":5}`,
		`{"amount":1,"meta":{"k":1,"K":2}}`,
		`{"amount":1,"reference":"\ud800"}`,
		`{"amount":1,"reference":"\\\ud800"}`,
		`{"amount":1,"reference":"\\ud800"}`,
		"{\"amount\":1,\"reference\":\"\xff\"}",
		`{"amount":1,"reference":"\u200b\u202e"}`,
		`{"amount":1,"reference":"\ud83d\u0041"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fx := newFixture(t)
		seedDemo(t, fx.store)
		resp := fx.do(t, req{path: "/accounts/acc-demo-1/deposits", body: body, tenant: "demo"})
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("%q: status %d %s", body, resp.StatusCode, resp.Body)
		case resp.StatusCode == 400:
			var p httpapi.Problem
			if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
				t.Fatalf("%q: problem %s: %v", body, resp.Body, err)
			}
			if p.Type == httpapi.ProblemTypePrefix+httpapi.KindValidation && len(p.Errors) == 0 {
				t.Fatalf("%q: a validation problem that names no field: %s", body, resp.Body)
			}
			return
		case resp.StatusCode != 200:
			return
		}
		if !utf8.ValidString(body) {
			t.Fatalf("%q: accepted a body that is not UTF-8", body)
		}
		if esc := unpairedSurrogate(body); esc != "" {
			t.Fatalf("%q: accepted the unpaired surrogate escape %s", body, esc)
		}
		names, err := memberNames(body)
		if err != nil {
			t.Fatalf("%q: accepted, but does not tokenize: %v", body, err)
		}
		for _, object := range names {
			for i, a := range object {
				for _, b := range object[:i] {
					if strings.EqualFold(a, b) {
						t.Fatalf("%q: accepted %q and %q in one object", body, b, a)
					}
				}
			}
		}
		for _, n := range names[0] {
			if n != "amount" && n != "reference" {
				t.Fatalf("%q: accepted the member %q", body, n)
			}
		}
	})
}

// escapes matches a JSON string escape, left to right, so that an escaped
// backslash is never read as the start of another escape.
var escapes = regexp.MustCompile(`\\(u[0-9a-fA-F]{4}|.)`)

// unpairedSurrogate returns the first \uD800-\uDFFF escape of a JSON text
// that is not a high surrogate directly followed by a low one, or "".
func unpairedSurrogate(text string) string {
	m := escapes.FindAllStringIndex(text, -1)
	code := func(i int) int64 {
		e := text[m[i][0]:m[i][1]]
		if len(e) != 6 {
			return -1
		}
		n, _ := strconv.ParseInt(e[2:], 16, 32)
		return n
	}
	for i := 0; i < len(m); i++ {
		c := code(i)
		switch {
		case c < 0xd800 || c > 0xdfff:
		case c <= 0xdbff && i+1 < len(m) && m[i+1][0] == m[i][1] && code(i+1) >= 0xdc00 && code(i+1) <= 0xdfff:
			i++
		default:
			return text[m[i][0]:m[i][1]]
		}
	}
	return ""
}

// memberNames lists the member names of every object of a JSON text, the
// outermost first.
func memberNames(text string) ([][]string, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	var (
		all   [][]string
		stack []int // the index in all of each open object, -1 for an array
		key   = true
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		inObject := len(stack) > 0 && stack[len(stack)-1] >= 0
		switch tok {
		case json.Delim('{'):
			all = append(all, nil)
			stack = append(stack, len(all)-1)
			key = true
			continue
		case json.Delim('['):
			stack = append(stack, -1)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if s, ok := tok.(string); ok && inObject && key {
				all[stack[len(stack)-1]] = append(all[stack[len(stack)-1]], s)
				key = false
				continue
			}
		}
		// A value ended: in an object, a name comes next.
		key = len(stack) > 0 && stack[len(stack)-1] >= 0
	}
}
