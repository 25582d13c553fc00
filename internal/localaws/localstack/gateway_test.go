package localstack

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/testlog"
	"annals/internal/localaws/samtemplate"
)

// echo answers with the event it got, so tests can read what the gateway
// built.
func echo(t *testing.T, got *events.APIGatewayV2HTTPRequest) Invoke {
	return func(_ context.Context, payload []byte) ([]byte, error) {
		if err := json.Unmarshal(payload, got); err != nil {
			t.Errorf("payload is not an HTTP API event: %v", err)
		}
		return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "ok",
			Headers: map[string]string{"Content-Type": "text/plain"}, Cookies: []string{"a=1"}})
	}
}

func newGateway(t *testing.T, fns map[string]Invoke, routes ...samtemplate.Route) *Gateway {
	t.Helper()
	g, err := NewGateway(routes, fns, map[string]time.Duration{"Slow": 50 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGatewayBuildsTheHTTPAPIEvent(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	g := newGateway(t, map[string]Invoke{"Fn": echo(t, &got)},
		samtemplate.Route{Function: "Fn", Method: "POST", Path: "/accounts/{id}/deposits"})
	req := httptest.NewRequest("POST", "/accounts/a%201/deposits?x=1&x=2&y=", strings.NewReader(`{"amount":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	req.AddCookie(&http.Cookie{Name: "c", Value: "v"})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)

	if rec.Code != 200 || rec.Body.String() != "ok" || rec.Header().Get("Content-Type") != "text/plain" || rec.Header().Get("Set-Cookie") != "a=1" {
		t.Errorf("response %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	if got.Version != "2.0" || got.RouteKey != "POST /accounts/{id}/deposits" || got.RequestContext.RouteKey != got.RouteKey {
		t.Errorf("route key %q / %q", got.RouteKey, got.RequestContext.RouteKey)
	}
	if got.PathParameters["id"] != "a 1" || got.RawPath != "/accounts/a%201/deposits" || got.RequestContext.HTTP.Path != "/accounts/a 1/deposits" {
		t.Errorf("path %q %q params %v", got.RawPath, got.RequestContext.HTTP.Path, got.PathParameters)
	}
	if got.RawQueryString != "x=1&x=2&y=" || got.QueryStringParameters["x"] != "1,2" || got.QueryStringParameters["y"] != "" {
		t.Errorf("query %q %v", got.RawQueryString, got.QueryStringParameters)
	}
	if got.Headers["content-type"] != "application/json" || got.Headers["x-multi"] != "a,b" || got.Headers["cookie"] != "" ||
		len(got.Cookies) != 1 || got.Cookies[0] != "c=v" {
		t.Errorf("headers %v cookies %v", got.Headers, got.Cookies)
	}
	if got.Body != `{"amount":1}` || got.IsBase64Encoded || got.RequestContext.HTTP.Method != "POST" ||
		got.RequestContext.RequestID == "" || got.RequestContext.Stage != "$default" || got.RequestContext.TimeEpoch == 0 {
		t.Errorf("event %+v", got)
	}
	if got.RequestContext.Authorizer != nil {
		t.Error("a local request carries an authorizer")
	}

	// A binary body travels base64-encoded.
	req = httptest.NewRequest("POST", "/accounts/a/deposits", strings.NewReader("\xff\x00"))
	req.Header.Set("Content-Type", "application/octet-stream")
	g.ServeHTTP(httptest.NewRecorder(), req)
	if b, _ := base64.StdEncoding.DecodeString(got.Body); !got.IsBase64Encoded || string(b) != "\xff\x00" {
		t.Errorf("binary body %q base64 %v", got.Body, got.IsBase64Encoded)
	}
}

func TestGatewayRouting(t *testing.T) {
	hit := map[string]int{}
	fn := func(name string) Invoke {
		return func(_ context.Context, payload []byte) ([]byte, error) {
			hit[name]++
			var ev events.APIGatewayV2HTTPRequest
			_ = json.Unmarshal(payload, &ev)
			return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: ev.RouteKey})
		}
	}
	g := newGateway(t, map[string]Invoke{"A": fn("A"), "B": fn("B"), "Fail": func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("panic: boom")
	}, "Bad": func(context.Context, []byte) ([]byte, error) { return []byte(`"not a response"`), nil },
		"Slow": func(ctx context.Context, _ []byte) ([]byte, error) { <-ctx.Done(); return nil, ctx.Err() }},
		samtemplate.Route{Function: "A", Method: "GET", Path: "/accounts/{id}"},
		samtemplate.Route{Function: "B", Method: "GET", Path: "/accounts/mine"},
		samtemplate.Route{Function: "A", Method: "GET", Path: "/files/{path+}"},
		samtemplate.Route{Function: "Fail", Method: "GET", Path: "/fail"},
		samtemplate.Route{Function: "Bad", Method: "GET", Path: "/bad"},
		samtemplate.Route{Function: "Slow", Method: "GET", Path: "/slow"},
	)
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/accounts/42", 200, "GET /accounts/{id}"},
		{"GET", "/accounts/mine", 200, "GET /accounts/mine"}, // the literal route wins
		{"GET", "/files/a/b/c", 200, "GET /files/{path+}"},
		{"POST", "/accounts/42", 404, `{"message":"Not Found"}`},
		{"GET", "/accounts", 404, `{"message":"Not Found"}`},
		{"GET", "/accounts/42/x", 404, `{"message":"Not Found"}`},
		{"GET", "/fail", 500, `{"message":"Internal Server Error"}`},
		{"GET", "/bad", 500, `{"message":"Internal Server Error"}`},
		{"GET", "/slow", 500, `{"message":"Internal Server Error"}`},
	} {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || rec.Body.String() != c.body {
			t.Errorf("%s %s = %d %s, want %d %s", c.method, c.path, rec.Code, rec.Body.String(), c.status, c.body)
		}
	}

	// With a $default route, what no route takes goes there.
	g = newGateway(t, map[string]Invoke{"A": fn("A"), "D": fn("D")},
		samtemplate.Route{Function: "A", Method: "GET", Path: "/accounts/{id}"},
		samtemplate.Route{Function: "D", Method: "ANY", Path: "$default"})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("DELETE", "/nowhere", nil))
	if rec.Code != 200 || rec.Body.String() != "$default" || hit["D"] != 1 {
		t.Errorf("unmatched request = %d %s, want the $default route", rec.Code, rec.Body.String())
	}

	if _, err := NewGateway([]samtemplate.Route{{Function: "X", Method: "GET", Path: "/x"}}, map[string]Invoke{}, nil, slog.Default()); err == nil {
		t.Error("a route without a handler was accepted")
	}
}

// A body over API Gateway's 10 MB limit gets its 413 before the function
// runs: at once when the request declares its length (the body is never
// read), else once the limit is read past.
func TestGatewayRefusesHugeBodies(t *testing.T) {
	called := false
	g := newGateway(t, map[string]Invoke{"A": func(context.Context, []byte) ([]byte, error) { called = true; return nil, nil }},
		samtemplate.Route{Function: "A", Method: "POST", Path: "/x"})
	declared := httptest.NewRequest("POST", "/x", unreadable{})
	declared.ContentLength = maxPayload + 1
	undeclared := httptest.NewRequest("POST", "/x", strings.NewReader(strings.Repeat("a", maxPayload+1)))
	undeclared.ContentLength = -1
	for name, r := range map[string]*http.Request{"declared": declared, "undeclared": undeclared} {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, r)
		if rec.Code != http.StatusRequestEntityTooLarge || called {
			t.Errorf("%s huge body = %d (function called: %v), want 413 before the function", name, rec.Code, called)
		}
	}
}

// unreadable is a body that must not be read.
type unreadable struct{}

func (unreadable) Read([]byte) (int, error) { return 0, errors.New("the body was read") }

// A function that panics fails its invocation, as in Lambda, and the
// stack goes on: the gateway answers 500 and the panic is in the log.
func TestPanicFailsTheInvocationOnly(t *testing.T) {
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	boom := recovering("Boom", func(context.Context, []byte) ([]byte, error) { panic("boom") }, log)
	g := newGateway(t, map[string]Invoke{"Boom": boom}, samtemplate.Route{Function: "Boom", Method: "GET", Path: "/boom"})
	for range 2 {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
		if rec.Code != 500 || rec.Body.String() != `{"message":"Internal Server Error"}` {
			t.Errorf("GET /boom = %d %s, want API Gateway's 500", rec.Code, rec.Body.String())
		}
	}
	if !logs.Contains(`"msg":"function panicked","function":"Boom","panic":"boom"`) {
		t.Errorf("the panic is not in the log: %s", logs.String())
	}
	ok := recovering("Ok", func(context.Context, []byte) ([]byte, error) { return []byte("{}"), nil }, log)
	if out, err := ok(context.Background(), nil); err != nil || string(out) != "{}" {
		t.Errorf("a function that does not panic: %s, %v", out, err)
	}
}

// Given the API's document, the gateway serves it and the page that
// renders it, on GET and HEAD only; every other request is routed as
// before, and without a document those paths are the API's like any.
func TestGatewayServesTheDocument(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	routes := []samtemplate.Route{{Function: "D", Method: "ANY", Path: "$default"}}
	g := newGateway(t, map[string]Invoke{"D": echo(t, &got)}, routes...)
	doc := []byte(`{"openapi":"3.1.0"}`)
	if err := g.ServeDocument(doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		status       int
		contentType  string
		body         string
	}{
		{"GET", DocumentPath, 200, "application/json", string(doc)},
		{"HEAD", DocumentPath, 200, "application/json", ""},
		{"GET", DocsPath, 200, "text/html; charset=utf-8", string(docsPage)},
		{"POST", DocumentPath, 200, "text/plain", "ok"}, // to the $default route
		{"GET", DocsPath + "/x", 200, "text/plain", "ok"},
	} {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || rec.Header().Get("Content-Type") != c.contentType || rec.Body.String() != c.body {
			t.Errorf("%s %s = %d %s %.40q, want %d %s %.40q", c.method, c.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), c.status, c.contentType, c.body)
		}
	}
	// The page is whole by itself: it loads nothing from anywhere but the
	// document beside it.
	page := string(docsPage)
	for _, ref := range []string{"http://", "https://", "<script src", "<link", "@import"} {
		if strings.Contains(page, ref) {
			t.Errorf("the page refers to something elsewhere: %q", ref)
		}
	}
	if !strings.Contains(page, `"openapi.json"`) {
		t.Error("the page does not read openapi.json")
	}

	g = newGateway(t, map[string]Invoke{"D": echo(t, &got)}, routes...)
	g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", DocumentPath, nil))
	if got.RawPath != DocumentPath {
		t.Errorf("without a document, GET %s reached the function as %q", DocumentPath, got.RawPath)
	}

	g = newGateway(t, map[string]Invoke{"D": echo(t, &got)}, samtemplate.Route{Function: "D", Method: "GET", Path: "/{page}"})
	if err := g.ServeDocument(doc); err == nil {
		t.Error("a template route on the document's paths was hidden by it")
	}
}
