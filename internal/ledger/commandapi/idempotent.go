package commandapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
)

// run runs a command, under the guard of its request's Idempotency-Key
// when it has one (nil without), and returns its answer, or the refusal or
// failure that stopped it. kept says that a commit carried the guard with
// the answer, so that a repeat is given it back already.
type run func(g *eventstore.Guard) (resp events.APIGatewayV2HTTPResponse, kept bool, err error)

// keyed runs a command under the request's Idempotency-Key, if it has
// one. The key is held by the command's own commit: its guard, written in
// the same transaction, records the answer, so a first request costs what
// the command costs (one transaction) and a repeat, whenever it comes,
// writes nothing and is given the first final answer. A final answer that
// no commit carries (a refusal, or nothing to change) is kept for a day
// with one conditional write. A request under the key with another
// fingerprint is 422 idempotency-key-reused; one that meets the first
// request's transaction in progress is 409 idempotency-in-flight.
func (h *Handler) keyed(ctx context.Context, req *events.APIGatewayV2HTTPRequest, id httpapi.Identity, decoded any, corr string, l *httpapi.Line, run run) events.APIGatewayV2HTTPResponse {
	key := httpapi.Header(req, "Idempotency-Key")
	if key == "" {
		resp, _, err := run(nil)
		if err != nil {
			return h.refused(err, corr, l)
		}
		return resp
	}
	if !httpapi.ValidKey(key) {
		return l.Fail(httpapi.Invalid(httpapi.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"}), corr)
	}
	g := &eventstore.Guard{
		Tenant:      id.Tenant,
		CommandID:   keyID(id.Actor, key),
		Fingerprint: fingerprint(id, req.RequestContext.HTTP.Method, req.RawPath, decoded),
	}
	resp, kept, err := run(g)
	if err != nil {
		if r, ok := h.repeated(err, g, corr, l); ok {
			return r
		}
		resp = h.refused(err, corr, l)
	}
	if kept || !final(resp) {
		return resp
	}
	// A final answer that no commit carries: keep it for a repeat, for a
	// day (nothing was applied, so nothing can be applied twice once it is
	// gone). A request under the same key that committed meanwhile wins,
	// and this one is answered as its repeat.
	outcome, err := json.Marshal(storable(resp))
	if err == nil {
		g.Outcome, g.ExpiresAt = outcome, h.cfg.Now().Add(h.cfg.KeyTTL)
		kctx, cancel := context.WithTimeout(ctx, h.cfg.KeyBudget)
		err = h.cfg.Store.RecordOutcome(kctx, *g)
		cancel()
	}
	if r, ok := h.repeated(err, g, corr, l); ok {
		return r
	}
	if err != nil {
		h.cfg.Log.WarnContext(ctx, "idempotent response not kept", "correlationId", corr, "error", err)
	}
	return resp
}

// repeated answers a request whose key a request ran under before (or is
// running under now).
func (h *Handler) repeated(err error, g *eventstore.Guard, corr string, l *httpapi.Line) (events.APIGatewayV2HTTPResponse, bool) {
	var applied *eventstore.AlreadyAppliedError
	switch {
	case errors.As(err, &applied) && applied.Fingerprint != g.Fingerprint:
		return l.Fail(httpapi.NewProblem(httpapi.KindIdempotencyReused, "this key was first used with another request"), corr), true
	case errors.As(err, &applied):
		return replayOutcome(applied.Outcome, corr), true
	case errors.Is(err, eventstore.ErrInFlight):
		p := httpapi.NewProblem(httpapi.KindIdempotencyInFlight, "")
		p.RetryAfter = 1
		return l.Fail(p, corr), true
	}
	return events.APIGatewayV2HTTPResponse{}, false
}

// keyID is the command id a key stands for: keys belong to the user who
// sends them, so two users of a tenant who happen to pick the same key
// never meet (the actor's length keeps any actor and key apart).
func keyID(actor, key string) string {
	return "idempotency-key:" + strconv.Itoa(len(actor)) + ":" + actor + ":" + key
}

// final responses are kept for replay: 2xx and 4xx, except a 409 conflict
// after retries and a 409 in flight, which a retry may well get past.
func final(r events.APIGatewayV2HTTPResponse) bool {
	if r.StatusCode >= 500 || r.StatusCode == http.StatusTooManyRequests {
		return false
	}
	if r.StatusCode == http.StatusConflict {
		var p httpapi.Problem
		if json.Unmarshal([]byte(r.Body), &p) != nil {
			return false
		}
		return p.Type != httpapi.ProblemTypePrefix+httpapi.KindConflict && p.Type != httpapi.ProblemTypePrefix+httpapi.KindIdempotencyInFlight
	}
	return true
}

// fingerprint identifies a request for its key: tenant, actor, method,
// path and the command as decoded (not the bytes sent: two bodies that
// decode to one command are one request, and two that decode to two
// commands are never one).
func fingerprint(id httpapi.Identity, method, path string, decoded any) string {
	h := sha256.New()
	for _, part := range []string{id.Tenant, id.Actor, method, path} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	// A decoded command is plain data; its JSON, fields in declaration
	// order, is one canonical form of it.
	b, _ := json.Marshal(decoded)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// kept is a final response as kept for replay.
type kept struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body"`
}

// storable is a response as kept for replay: without the correlation id,
// which belongs to each request.
func storable(r events.APIGatewayV2HTTPResponse) kept {
	headers := map[string]string{}
	for k, v := range r.Headers {
		if !strings.EqualFold(k, httpapi.CorrelationHeader) {
			headers[k] = v
		}
	}
	return kept{Status: r.StatusCode, Headers: headers, Body: r.Body}
}

// replayOutcome returns a kept response to a repeat of its request.
func replayOutcome(outcome []byte, corr string) events.APIGatewayV2HTTPResponse {
	var r kept
	if err := json.Unmarshal(outcome, &r); err != nil || r.Status == 0 {
		return httpapi.NewProblem(httpapi.KindInternal, "").Response(corr)
	}
	headers := map[string]string{httpapi.CorrelationHeader: corr, "Idempotent-Replayed": "true"}
	for k, v := range r.Headers {
		headers[k] = v
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: headers, Body: r.Body}
}
