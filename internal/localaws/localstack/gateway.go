package localstack

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"annals/internal/localaws/samtemplate"
)

// maxPayload is API Gateway's limit on a request body (10 MB); the
// functions refuse far smaller bodies themselves, with a problem.
const maxPayload = 10 << 20

// Invoke calls a function with a JSON event and returns its JSON result,
// as the Lambda service does.
type Invoke func(ctx context.Context, payload []byte) ([]byte, error)

// route is one template route with its path split into segments.
type route struct {
	samtemplate.Route
	segments []string
}

// Gateway serves HTTP as API Gateway's HTTP API does for the template's
// routes: each request becomes a payload format 2.0 event for the function
// its route names, and the function's response becomes the HTTP response.
// There is no authorizer: the functions identify the caller as the local
// tenant and actor.
type Gateway struct {
	routes    []route
	fallback  *route // the $default route, if any
	functions map[string]Invoke
	timeouts  map[string]time.Duration
	log       *slog.Logger
	now       func() time.Time
	document  []byte // the API's OpenAPI document, if served
}

// NewGateway routes by routes to the functions, each invocation bounded by
// its function's timeout (none when absent).
func NewGateway(routes []samtemplate.Route, functions map[string]Invoke, timeouts map[string]time.Duration, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{functions: functions, timeouts: timeouts, log: log, now: time.Now}
	for _, r := range routes {
		if functions[r.Function] == nil {
			return nil, fmt.Errorf("route %s: no handler for %s", r.Key(), r.Function)
		}
		if r.Path == samtemplate.DefaultPath {
			g.fallback = &route{Route: r}
			continue
		}
		g.routes = append(g.routes, route{Route: r, segments: strings.Split(strings.Trim(r.Path, "/"), "/")})
	}
	// API Gateway prefers the most specific route: more literal segments
	// first, then fewer greedy ones.
	slices.SortStableFunc(g.routes, func(a, b route) int { return specificity(b) - specificity(a) })
	return g, nil
}

func specificity(r route) int {
	n := 0
	for _, s := range r.segments {
		switch {
		case strings.HasSuffix(s, "+}"):
		case strings.HasPrefix(s, "{"):
			n += 100
		default:
			n += 10000
		}
	}
	if r.Method != "ANY" {
		n++
	}
	return n
}

// match returns the route for method and path, with its path parameters.
func (g *Gateway) match(method, path string) (*route, map[string]string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := range g.routes {
		r := &g.routes[i]
		if r.Method != method && r.Method != "ANY" {
			continue
		}
		if params, ok := matchPath(r.segments, parts); ok {
			return r, params
		}
	}
	return g.fallback, nil
}

func matchPath(pattern, parts []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") {
			if i >= len(parts) {
				return nil, false
			}
			params[strings.TrimSuffix(strings.TrimPrefix(p, "{"), "+}")] = strings.Join(parts[i:], "/")
			return params, true
		}
		if i >= len(parts) {
			return nil, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if parts[i] == "" {
				return nil, false
			}
			v, err := url.PathUnescape(parts[i])
			if err != nil {
				return nil, false
			}
			params[strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}")] = v
			continue
		}
		if p != parts[i] {
			return nil, false
		}
	}
	return params, len(pattern) == len(parts)
}

// Where the gateway serves the API's document and the page that renders
// it, when it has one (ServeDocument).
const (
	DocumentPath = "/openapi.json"
	DocsPath     = "/docs"
)

// docsPage renders the document beside it, with nothing from elsewhere.
//
//go:embed apidocs.html
var docsPage []byte

// ServeDocument has the gateway serve the API's OpenAPI document, as
// JSON, at DocumentPath, and a page that renders it at DocsPath. API
// Gateway serves neither: they are the local stack's own, so a template
// route on either path is refused rather than hidden.
func (g *Gateway) ServeDocument(doc []byte) error {
	for _, p := range []string{DocumentPath, DocsPath} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			if rt, _ := g.match(m, p); rt != nil && rt != g.fallback {
				return fmt.Errorf("route %s takes %s %s, where the local stack serves the API's document", rt.Key(), m, p)
			}
		}
	}
	g.document = doc
	return nil
}

// serveDocument answers GET and HEAD of the document and its page, and
// reports whether the request was one of those.
func (g *Gateway) serveDocument(w http.ResponseWriter, r *http.Request) bool {
	if g.document == nil || r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	var body []byte
	switch r.URL.Path {
	case DocumentPath:
		body = g.document
		w.Header().Set("Content-Type", "application/json")
	case DocsPath:
		body = docsPage
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	default:
		return false
	}
	// Always asked for again: the document changes with the code.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	g.log.Info("gateway", "method", r.Method, "path", r.URL.Path, "status", http.StatusOK, "route", "document")
	return true
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	if g.serveDocument(w, r) {
		return
	}
	rt, params := g.match(r.Method, r.URL.EscapedPath())
	if rt == nil {
		// What API Gateway itself answers for a request no route takes.
		writeJSON(w, http.StatusNotFound, `{"message":"Not Found"}`)
		g.log.Info("gateway", "method", r.Method, "path", r.URL.Path, "status", http.StatusNotFound, "route", "")
		return
	}
	refuse := func(status int, message string) {
		writeJSON(w, status, `{"message":"`+message+`"}`)
		g.log.Info("gateway", "method", r.Method, "path", r.URL.Path, "status", status, "route", rt.Key())
	}
	if r.ContentLength > maxPayload {
		refuse(http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		refuse(http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > maxPayload {
		refuse(http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ev := g.event(r, rt, params, body, start)
	payload, err := json.Marshal(ev)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
		return
	}
	ctx := r.Context()
	if d := g.timeouts[rt.Function]; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	out, err := g.functions[rt.Function](ctx, payload)
	status := http.StatusInternalServerError
	if err == nil {
		status, err = writeResponse(w, out)
	}
	if err != nil {
		// API Gateway hides a function's failure behind a bare 500.
		g.log.Error("gateway: the function failed", "function", rt.Function, "route", rt.Key(), "error", err.Error())
		writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
	}
	g.log.Info("gateway", "method", r.Method, "path", r.URL.Path, "route", rt.Key(), "function", rt.Function,
		"status", status, "ms", g.now().Sub(start).Milliseconds())
}

// event is the payload format 2.0 event API Gateway would send.
func (g *Gateway) event(r *http.Request, rt *route, params map[string]string, body []byte, at time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for name, vs := range r.Header {
		if strings.EqualFold(name, "Cookie") {
			continue
		}
		headers[strings.ToLower(name)] = strings.Join(vs, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	var cookies []string
	for _, c := range r.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = make(map[string]string, len(q))
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.Key(),
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   rt.Key(),
			AccountID:  "123456789012",
			Stage:      "$default",
			RequestID:  uuid.NewString(),
			APIID:      "local",
			DomainName: r.Host,
			Time:       at.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  at.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  ip,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type"), body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

// isText tells whether API Gateway would pass the body as text: a textual
// media type, or no type at all, and valid UTF-8.
func isText(contentType string, body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	ct := strings.ToLower(contentType)
	return ct == "" || strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "xml") || strings.Contains(ct, "x-www-form-urlencoded") || strings.Contains(ct, "javascript")
}

// writeResponse writes the function's payload format 2.0 response.
func writeResponse(w http.ResponseWriter, out []byte) (int, error) {
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, fmt.Errorf("response is not a payload format 2.0 response: %w", err)
	}
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return 0, fmt.Errorf("response status %d", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return 0, fmt.Errorf("response body is not base64: %w", err)
		}
	}
	h := w.Header()
	for name, v := range resp.Headers {
		h.Set(name, v)
	}
	for name, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(name, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return resp.StatusCode, nil
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
