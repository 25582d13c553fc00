// Package commandapi serves the ledger's command routes (API Gateway HTTP
// API, payload 2.0): decode, validate, load, decide, append, respond. It
// owns the retry policy for lost races, If-Match preconditions and the
// Idempotency-Key protocol, on top of the event store's guards.
package commandapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/idempotency"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// Config wires a Handler.
type Config struct {
	Store       *eventstore.Store
	Idempotency idempotency.Store
	Auth        httpapi.Auth
	Now         func() time.Time
	NewID       func() string
	Log         *slog.Logger
	// ConflictBudget bounds the time a command without If-Match spends
	// being decided again after losing races for the head
	// (eventstore.DefaultConflictBudget when zero).
	ConflictBudget time.Duration
	// Lease is how long an Idempotency-Key stays in flight before another
	// request may take it over: longer than the function's timeout.
	Lease time.Duration
	// KeyTTL is how long a final response is kept for replay.
	KeyTTL time.Duration
	// KeyBudget bounds the time spent keeping a response or releasing a
	// key while AWS throttles or fails (2 s when zero).
	KeyBudget time.Duration
}

// Handler serves the command routes.
type Handler struct {
	cfg      Config
	accounts *app.Accounts
}

// New returns a handler; unset durations and counts take their defaults.
func New(cfg Config) *Handler {
	if cfg.Lease <= 0 {
		cfg.Lease = 60 * time.Second
	}
	if cfg.KeyTTL <= 0 {
		cfg.KeyTTL = 24 * time.Hour
	}
	if cfg.KeyBudget <= 0 {
		cfg.KeyBudget = 2 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Handler{cfg: cfg, accounts: app.NewAccounts(cfg.Store)}
}

// Handle serves one request. It never returns an error: every outcome,
// including an internal failure, is a problem+json response, so API Gateway
// never answers with a bare 500.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return httpapi.Serve(ctx, &req, h.cfg.Log, "command", h.cfg.NewID, func(ctx context.Context, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
		return h.serve(ctx, &req, corr, l)
	}), nil
}

func (h *Handler) serve(ctx context.Context, req *events.APIGatewayV2HTTPRequest, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	r, p := match(req.RequestContext.HTTP.Method, req.RawPath)
	if p != nil {
		return l.Fail(p, corr)
	}
	id, p := h.cfg.Auth.Identify(req, httpapi.ScopeWrite)
	if p != nil {
		return l.Fail(p, corr)
	}
	body, p := httpapi.Body(req)
	if p != nil {
		return l.Fail(p, corr)
	}
	if r == routeTransfer {
		return h.startTransfer(ctx, req, id, body, corr, l)
	}
	c, p := h.decode(r, req, body)
	if p != nil {
		return l.Fail(p, corr)
	}
	stream, err := app.AccountStream(id.Tenant, c.accountID)
	if err != nil {
		// No account can have this id.
		return l.Fail(httpapi.NewProblem(httpapi.KindNotFound, "no account with this id"), corr)
	}
	l.Add("stream", stream.String())
	commandID := h.cfg.NewID()
	meta := eventstore.Metadata{CommandID: commandID, CorrelationID: corr, CausationID: commandID, Actor: id.Actor}

	key := httpapi.Header(req, "Idempotency-Key")
	if key == "" {
		return h.run(ctx, stream, c, meta, nil, corr, l)
	}
	if !httpapi.ValidKey(key) {
		return l.Fail(httpapi.Invalid(httpapi.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"}), corr)
	}
	fp := fingerprint(id.Tenant, req.RequestContext.HTTP.Method, req.RawPath, body)
	return h.idempotent(ctx, id.Tenant, key, fp, corr, l, func(guard *eventstore.Guard) events.APIGatewayV2HTTPResponse {
		return h.run(ctx, stream, c, meta, guard, corr, l)
	})
}

// command is a decoded request.
type command struct {
	route     route
	accountID string
	cmd       account.Command
	ifMatch   *int64
}

// run loads, decides and appends. A command that loses the race for the
// head is decided again on the state the winner left, for as long as the
// conflict budget allows, unless the client pinned the version with
// If-Match: racing commands on one account serialize instead of failing.
func (h *Handler) run(ctx context.Context, stream eventstore.StreamID, c command, meta eventstore.Metadata, guard *eventstore.Guard, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	var resp events.APIGatewayV2HTTPResponse
	err := eventstore.RetryConflicts(ctx, h.cfg.ConflictBudget, func(int) error {
		var err error
		resp, err = h.attempt(ctx, stream, c, meta, guard, corr, l)
		return err
	})
	if err != nil {
		return l.FailErr(err, corr)
	}
	return resp
}

// attempt loads, decides and appends once. It answers every outcome but a
// lost race, which it returns as the conflict to retry.
func (h *Handler) attempt(ctx context.Context, stream eventstore.StreamID, c command, meta eventstore.Metadata, guard *eventstore.Guard, corr string, l *httpapi.Line) (events.APIGatewayV2HTTPResponse, error) {
	cur := eventstore.Current[account.Account]{Head: eventstore.NewStream(stream)}
	if c.route != routeOpen {
		var err error
		if cur, err = h.accounts.Load(ctx, stream); err != nil {
			return l.FailErr(app.AccountError(err), corr), nil
		}
	}
	if c.ifMatch != nil && cur.Head.Version() != *c.ifMatch {
		p := httpapi.NewProblem(httpapi.KindPreconditionFailed, "the account is at version "+strconv.FormatInt(cur.Head.Version(), 10))
		return l.Fail(p, corr), nil
	}
	decided, err := account.Decide(cur.State, c.cmd)
	if err != nil {
		return l.FailErr(err, corr), nil
	}
	next := cur.State
	for _, e := range decided {
		next = account.Evolve(next, e)
	}
	version := cur.Head.Version() + int64(len(decided))
	resp := h.success(c, next, version, corr)
	l.Add("version", version)
	if len(decided) == 0 {
		return resp, nil
	}
	evs, err := app.Encode(decided)
	if err != nil {
		return l.FailErr(err, corr), nil
	}
	var g *eventstore.Guard
	if guard != nil {
		outcome, err := json.Marshal(storable(resp))
		if err != nil {
			return l.FailErr(err, corr), nil
		}
		g = &eventstore.Guard{Tenant: guard.Tenant, CommandID: guard.CommandID, Outcome: outcome}
	}
	_, _, err = h.accounts.Append(ctx, cur, evs, meta, g)
	var applied *eventstore.AlreadyAppliedError
	switch {
	case err == nil:
		return resp, nil
	case errors.As(err, &applied):
		return replayOutcome(applied.Outcome, corr), nil
	case errors.Is(err, eventstore.ErrConflict) && c.ifMatch != nil:
		return l.Fail(httpapi.NewProblem(httpapi.KindPreconditionFailed, "the account changed while the command ran"), corr), nil
	case errors.Is(err, eventstore.ErrConflict) && c.route != routeOpen:
		return resp, err
	case errors.Is(err, eventstore.ErrConflict):
		return l.FailErr(account.ErrAccountExists, corr), nil
	}
	return l.FailErr(err, corr), nil
}

func (h *Handler) success(c command, a account.Account, version int64, corr string) events.APIGatewayV2HTTPResponse {
	headers := map[string]string{"ETag": httpapi.ETag(version)}
	switch c.route {
	case routeOpen:
		headers["Location"] = "/accounts/" + c.accountID
		return httpapi.JSON(http.StatusCreated, opened{AccountID: c.accountID, Version: version}, headers, corr)
	case routeClose:
		return httpapi.JSON(http.StatusOK, closed{AccountID: c.accountID, Version: version, Status: string(a.Status)}, headers, corr)
	}
	return httpapi.JSON(http.StatusOK, moved{AccountID: c.accountID, Version: version, Balance: a.Balance}, headers, corr)
}

type opened struct {
	AccountID string `json:"accountId"`
	Version   int64  `json:"version"`
}

type moved struct {
	AccountID string `json:"accountId"`
	Version   int64  `json:"version"`
	Balance   int64  `json:"balance"`
}

type closed struct {
	AccountID string `json:"accountId"`
	Version   int64  `json:"version"`
	Status    string `json:"status"`
}

// storable is a response as kept for replay: without the correlation id,
// which belongs to each request.
func storable(r events.APIGatewayV2HTTPResponse) idempotency.Response {
	headers := map[string]string{}
	for k, v := range r.Headers {
		if !strings.EqualFold(k, httpapi.CorrelationHeader) {
			headers[k] = v
		}
	}
	return idempotency.Response{Status: r.StatusCode, Headers: headers, Body: r.Body}
}

// replay returns a kept response to a repeat of its request.
func replay(r idempotency.Response, corr string) events.APIGatewayV2HTTPResponse {
	headers := map[string]string{httpapi.CorrelationHeader: corr, "Idempotent-Replayed": "true"}
	for k, v := range r.Headers {
		headers[k] = v
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: headers, Body: r.Body}
}

func replayOutcome(outcome []byte, corr string) events.APIGatewayV2HTTPResponse {
	var r idempotency.Response
	if err := json.Unmarshal(outcome, &r); err != nil || r.Status == 0 {
		return httpapi.NewProblem(httpapi.KindInternal, "").Response(corr)
	}
	return replay(r, corr)
}
