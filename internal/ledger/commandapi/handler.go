// Package commandapi serves the ledger's command routes (API Gateway HTTP
// API, payload 2.0): decode and validate a request, run it as an
// application command (app.Commands) and answer. It owns what is HTTP's:
// If-Match, the Idempotency-Key protocol on top of the event store's
// guards, and the problem each refusal is.
package commandapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
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
	commands *app.Commands
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
	return &Handler{cfg: cfg, commands: app.NewCommands(cfg.Store, cfg.ConflictBudget)}
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
		return l.FailErr(account.ErrAccountNotFound, corr)
	}
	l.Add("stream", stream.String())
	cmd := app.AccountCommand{Tenant: id.Tenant, AccountID: c.accountID, Command: c.cmd, IfMatch: c.ifMatch, Meta: h.meta(id, corr)}
	return h.keyed(ctx, req, id.Tenant, body, corr, l, func(guardID string) events.APIGatewayV2HTTPResponse {
		respond := func(res app.AccountResult) events.APIGatewayV2HTTPResponse { return success(c.route, res, corr) }
		cmd.Once = once(guardID, respond)
		res, err := h.commands.Execute(ctx, cmd)
		if err != nil {
			return h.refused(err, corr, l)
		}
		l.Add("version", res.Version)
		return respond(res)
	})
}

// meta is what a command's commit records of its request.
func (h *Handler) meta(id httpapi.Identity, corr string) eventstore.Metadata {
	commandID := h.cfg.NewID()
	return eventstore.Metadata{CommandID: commandID, CorrelationID: corr, CausationID: commandID, Actor: id.Actor}
}

// keyed runs a command under the request's Idempotency-Key, if it has one
// (see idempotent); run is given the command id of the guard its commit
// must carry, "" without a key.
func (h *Handler) keyed(ctx context.Context, req *events.APIGatewayV2HTTPRequest, tenant string, body []byte, corr string, l *httpapi.Line, run func(guardID string) events.APIGatewayV2HTTPResponse) events.APIGatewayV2HTTPResponse {
	key := httpapi.Header(req, "Idempotency-Key")
	if key == "" {
		return run("")
	}
	if !httpapi.ValidKey(key) {
		return l.Fail(httpapi.Invalid(httpapi.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"}), corr)
	}
	fp := fingerprint(tenant, req.RequestContext.HTTP.Method, req.RawPath, body)
	return h.idempotent(ctx, tenant, key, fp, corr, l, run)
}

// once keeps, with a keyed command's commit, the response its result
// makes, so that a repeat of the request is given it back.
func once[R any](guardID string, respond func(R) events.APIGatewayV2HTTPResponse) *app.Once[R] {
	if guardID == "" {
		return nil
	}
	return &app.Once[R]{CommandID: guardID, Outcome: func(r R) ([]byte, error) { return json.Marshal(storable(respond(r))) }}
}

// refused answers a command that did not run: the first outcome of a
// repeat, a failed If-Match, or the problem the error names.
func (h *Handler) refused(err error, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	var (
		applied *eventstore.AlreadyAppliedError
		pinned  *app.PreconditionError
	)
	switch {
	case errors.As(err, &applied):
		return replayOutcome(applied.Outcome, corr)
	case errors.As(err, &pinned):
		return l.Fail(httpapi.NewProblem(httpapi.KindPreconditionFailed, pinned.Error()), corr)
	}
	return l.FailErr(err, corr)
}

// command is a decoded request.
type command struct {
	route     route
	accountID string
	cmd       account.Command
	ifMatch   *app.IfMatch
}

func success(r route, res app.AccountResult, corr string) events.APIGatewayV2HTTPResponse {
	headers := map[string]string{"ETag": httpapi.ETag(res.Version)}
	switch r {
	case routeOpen:
		headers["Location"] = "/accounts/" + res.AccountID
		return httpapi.JSON(http.StatusCreated, opened{AccountID: res.AccountID, Version: res.Version}, headers, corr)
	case routeClose:
		return httpapi.JSON(http.StatusOK, closed{AccountID: res.AccountID, Version: res.Version, Status: string(res.Account.Status)}, headers, corr)
	}
	return httpapi.JSON(http.StatusOK, moved{AccountID: res.AccountID, Version: res.Version, Balance: res.Account.Balance}, headers, corr)
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
