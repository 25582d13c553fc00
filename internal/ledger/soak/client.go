package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"
)

// problemPrefix starts every problem type the API answers.
const problemPrefix = "urn:annals:problem:"

// answer is one HTTP response, or the failure to get one.
type answer struct {
	status int
	// problem is the problem type without its prefix, for problem+json.
	problem    string
	body       []byte
	replayed   bool // Idempotent-Replayed: true
	retryAfter string
	etag       string
	location   string
	corr       string // the correlation id the request carried
	err        error  // no answer at all
	sent, at   time.Time
}

// what describes an answer for a violation.
func (a answer) what() string {
	if a.err != nil {
		return "no answer (" + a.err.Error() + ")"
	}
	s := fmt.Sprintf("%d", a.status)
	if a.problem != "" {
		s += " " + a.problem
	}
	if a.replayed {
		s += " (replayed)"
	}
	return s
}

// final tells whether an answer to a keyed command ends it: a 2xx or 4xx
// other than those the Idempotency-Key protocol releases the key for (409
// conflict, 429) or keeps it busy for (409 idempotency-in-flight).
func (a answer) final() bool {
	switch {
	case a.err != nil, a.status >= 500, a.status == http.StatusTooManyRequests:
		return false
	case a.status == http.StatusConflict && (a.problem == "conflict" || a.problem == "idempotency-in-flight"):
		return false
	}
	return true
}

// sameAs compares what a replay must repeat of the first final answer:
// status, body (but for its correlation id, each request's own), ETag and
// Location.
func (a answer) sameAs(b answer) bool {
	return a.status == b.status && a.etag == b.etag && a.location == b.location && sameBody(a.body, b.body)
}

func sameBody(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	delete(x, "correlationId")
	delete(y, "correlationId")
	return reflect.DeepEqual(x, y)
}

// send sends one request and reads the whole answer. Every request
// carries its own correlation id, which the stack logs and records on the
// events it appends.
func (r *run) send(ctx context.Context, method, path string, body []byte, key string) (a answer) {
	r.mu.Lock()
	r.seq++
	corr := fmt.Sprintf("soak-%s-%d", r.id, r.seq)
	r.requests++
	r.mu.Unlock()

	a = answer{corr: corr, sent: time.Now()}
	// The result is named so that the time the answer came, set here, is
	// the one returned.
	defer func() {
		a.at = time.Now()
		r.mu.Lock()
		r.statuses[a.status]++
		if a.replayed {
			r.replays++
		}
		if a.problem == "idempotency-in-flight" {
			r.inFlight++
		}
		r.mu.Unlock()
	}()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.URL+path, rd)
	if err != nil {
		a.err = err
		return a
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("X-Correlation-Id", corr)
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		a.err = fmt.Errorf("%s %s: %w", method, path, err)
		return a
	}
	defer resp.Body.Close()
	a.body, err = io.ReadAll(resp.Body)
	if err != nil {
		a.err = fmt.Errorf("%s %s: read the answer: %w", method, path, err)
		return a
	}
	a.status = resp.StatusCode
	a.replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	a.retryAfter = resp.Header.Get("Retry-After")
	a.etag = resp.Header.Get("ETag")
	a.location = resp.Header.Get("Location")
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(a.body, &p) == nil {
			a.problem = strings.TrimPrefix(p.Type, problemPrefix)
		}
	}
	return a
}

// allowed checks what every answer must be, whatever the command: no
// 5xx, but for the 503 problems of a failing AWS (throttled, unavailable,
// outcome-unknown) while faults are injected, which say when to retry. It
// reports a violation about subject otherwise.
func (r *run) allowed(a answer, subject string) bool {
	bad := ""
	switch {
	case a.err != nil:
		bad = "no answer: " + a.err.Error()
	case a.status == http.StatusServiceUnavailable:
		switch {
		case !r.faults.Load():
			bad = "answered " + a.what() + " with no fault injected"
		case a.problem != "throttled" && a.problem != "unavailable" && a.problem != "outcome-unknown":
			bad = "answered " + a.what() + ", not throttled, unavailable or outcome-unknown"
		case a.retryAfter == "":
			bad = "answered " + a.what() + " without Retry-After"
		}
	case a.status >= 500 || a.status == http.StatusTooManyRequests:
		// 429 is API Gateway's own, for a caller's rate: never a function's.
		bad = "answered " + a.what() + ": " + clip(a.body)
	}
	if bad == "" {
		return true
	}
	r.violate(Violation{Check: "answer", Subject: subject, Detail: bad, Correlation: []string{a.corr}})
	return false
}

// clip shortens a body for a violation's detail.
func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// get reads path into v, reporting any answer but 200 as an error, and
// any answer no request may get as a violation about subject too.
func (r *run) get(ctx context.Context, path, subject string, v any) (answer, error) {
	a := r.send(ctx, http.MethodGet, path, nil, "")
	if ctx.Err() == nil && !r.allowed(a, subject) {
		return a, fmt.Errorf("GET %s answered %s", path, a.what())
	}
	if a.err != nil {
		return a, a.err
	}
	if a.status != http.StatusOK {
		return a, fmt.Errorf("GET %s answered %s: %s", path, a.what(), clip(a.body))
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return a, fmt.Errorf("GET %s: the answer is not the JSON expected: %w: %s", path, err, clip(a.body))
	}
	return a, nil
}

// pause waits d, or less when ctx ends first.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
