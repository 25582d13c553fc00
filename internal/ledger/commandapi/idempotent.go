package commandapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/idempotency"
)

// idempotent runs a request under its Idempotency-Key. The first request
// with a key takes a lease on it; a repeat with the same fingerprint gets
// the first final response, one with another fingerprint a 422, one while
// the first is still running a 409. The command itself carries a guard in
// its commit, so even a request that outlived its lease cannot apply twice.
func (h *Handler) idempotent(ctx context.Context, tenant, key, fp, corr string, l *httpapi.Line, run func(guardID string) events.APIGatewayV2HTTPResponse) events.APIGatewayV2HTTPResponse {
	now := h.cfg.Now()
	rec := idempotency.Record{
		Key: tenant + "#" + key, Fingerprint: fp, Owner: h.cfg.NewID(),
		LeaseUntil: now.Add(h.cfg.Lease), ExpiresAt: now.Add(h.cfg.KeyTTL),
	}
	old, err := h.cfg.Idempotency.Acquire(ctx, rec, now)
	switch {
	case errors.Is(err, idempotency.ErrTaken):
		if old.Fingerprint != fp {
			return l.Fail(httpapi.NewProblem(httpapi.KindIdempotencyReused, "this key was first used with another request"), corr)
		}
		if old.State == idempotency.Done && old.Response != nil {
			return replay(*old.Response, corr)
		}
		p := httpapi.NewProblem(httpapi.KindIdempotencyInFlight, "")
		p.RetryAfter = max(1, int(math.Ceil(old.LeaseUntil.Sub(now).Seconds())))
		return l.Fail(p, corr)
	case eventstore.Transient(err):
		// The record may be ours, from an attempt whose answer was lost
		// before the SDK's last, refused one: free it rather than hold the
		// key for the whole lease (a release of a record we do not hold
		// does nothing).
		h.release(ctx, rec, corr)
		return l.FailErr(err, corr)
	case err != nil:
		return l.FailErr(err, corr)
	}

	// The guard names the request, not only the key: a key is free again
	// once its record expires, and another request under it then is a new
	// command, not a replay of the old one's outcome.
	guardID := "idempotency-key:" + key + "#" + fp
	var resp events.APIGatewayV2HTTPResponse
	var applied *eventstore.AlreadyAppliedError
	if old != nil && old.State == idempotency.InFlight {
		// An earlier attempt died holding the key: it may have applied
		// the command. Its guard, written with its commit, says.
		err := h.cfg.Store.CheckGuard(ctx, tenant, guardID)
		switch {
		case errors.As(err, &applied):
			resp = replayOutcome(applied.Outcome, corr)
		case err != nil:
			h.release(ctx, rec, corr)
			return l.FailErr(err, corr)
		}
	}
	if resp.StatusCode == 0 {
		resp = run(guardID)
	}
	if final(resp) {
		kept := storable(resp)
		delete(kept.Headers, "Idempotent-Replayed")
		// Until the response is kept, a retry is told the request is in
		// flight: worth a few attempts while AWS throttles or fails.
		err := eventstore.RetryWhile(ctx, h.cfg.KeyBudget, eventstore.Transient, func(int) error {
			return h.cfg.Idempotency.Complete(ctx, rec.Key, rec.Owner, kept, h.cfg.Now().Add(h.cfg.KeyTTL))
		})
		if err != nil {
			h.cfg.Log.WarnContext(ctx, "idempotent response not kept", "correlationId", corr, "error", err)
		}
	} else {
		h.release(ctx, rec, corr)
	}
	return resp
}

// release gives the key up, so that a retry runs the request again; until
// then a retry is told it is in flight, so it is worth a few attempts.
func (h *Handler) release(ctx context.Context, rec idempotency.Record, corr string) {
	err := eventstore.RetryWhile(ctx, h.cfg.KeyBudget, eventstore.Transient, func(int) error {
		return h.cfg.Idempotency.Release(ctx, rec.Key, rec.Owner)
	})
	if err != nil && !errors.Is(err, idempotency.ErrLeaseLost) {
		h.cfg.Log.WarnContext(ctx, "idempotency key not released", "correlationId", corr, "error", err)
	}
}

// final responses are kept for replay: 2xx and 4xx, except a 409 conflict
// after retries, which a retry may well get past.
func final(r events.APIGatewayV2HTTPResponse) bool {
	if r.StatusCode >= 500 || r.StatusCode == http.StatusTooManyRequests {
		return false
	}
	if r.StatusCode == http.StatusConflict {
		var p httpapi.Problem
		return json.Unmarshal([]byte(r.Body), &p) == nil && p.Type != httpapi.ProblemTypePrefix+httpapi.KindConflict
	}
	return true
}

// fingerprint identifies a request for its key: tenant, method, path and
// the body in canonical form (object keys sorted, insignificant white space
// dropped), so that a re-serialised retry of the same request matches.
func fingerprint(tenant, method, path string, body []byte) string {
	h := sha256.New()
	for _, part := range []string{tenant, method, path} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(canonical(body))
	return hex.EncodeToString(h.Sum(nil))
}

func canonical(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}
