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
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/emf"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/personal"
	"annals/internal/kit/xray"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// Config wires a Handler.
type Config struct {
	Store *eventstore.Store
	// Vault seals what commands record of personal data, and erases it.
	Vault *personal.Vault
	Auth  httpapi.Auth
	Now   func() time.Time
	NewID func() string
	Log   *slog.Logger
	// Metrics, if set, makes each request's line its latency, DynamoDB
	// requests and capacity as CloudWatch metrics.
	Metrics *emf.Metrics
	// ConflictBudget bounds the time a command without If-Match spends
	// being decided again after losing races for the head
	// (eventstore.DefaultConflictBudget when zero).
	ConflictBudget time.Duration
	// KeyTTL is how long an Idempotency-Key whose request wrote nothing (a
	// refusal) keeps its response for replay (a day when zero); after it
	// the key is free. A key whose request committed is its for good.
	KeyTTL time.Duration
	// KeyBudget bounds the time spent keeping a refusal's response for
	// replay while AWS throttles or fails (2 s when zero).
	KeyBudget time.Duration
}

// Handler serves the command routes.
type Handler struct {
	cfg      Config
	commands *app.Commands
}

// New returns a handler; unset durations and counts take their defaults.
func New(cfg Config) *Handler {
	if cfg.KeyTTL <= 0 {
		cfg.KeyTTL = 24 * time.Hour
	}
	if cfg.KeyBudget <= 0 {
		cfg.KeyBudget = 2 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Handler{cfg: cfg, commands: app.NewCommands(cfg.Store, cfg.Vault, cfg.ConflictBudget)}
}

// Handle serves one request. It never returns an error: every outcome,
// including an internal failure, is a problem+json response, so API Gateway
// never answers with a bare 500.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return httpapi.Serve(ctx, &req, h.cfg.Log, h.cfg.Metrics, "command", h.cfg.NewID, func(ctx context.Context, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
		return h.serve(ctx, &req, corr, l)
	}), nil
}

func (h *Handler) serve(ctx context.Context, req *events.APIGatewayV2HTTPRequest, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	r, p := match(req.RequestContext.HTTP.Method, req.RawPath)
	if p != nil {
		return l.Fail(p, corr)
	}
	scope := httpapi.ScopeWrite
	if r == routeErase {
		scope = httpapi.ScopeErase
	}
	id, p := h.cfg.Auth.Identify(req, scope)
	if p != nil {
		return l.Fail(p, corr)
	}
	body, p := httpapi.Body(req)
	if p != nil {
		return l.Fail(p, corr)
	}
	switch r {
	case routeTransfer:
		return h.startTransfer(ctx, req, id, body, corr, l)
	case routeErase:
		return h.erase(ctx, req, id, body, corr, l)
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
	cmd := app.AccountCommand{Tenant: id.Tenant, AccountID: c.accountID, Command: c.cmd, IfMatch: c.ifMatch, Meta: h.meta(ctx, id, corr)}
	return h.keyed(ctx, req, id, asked(c.cmd), corr, l, func(g *eventstore.Guard) (events.APIGatewayV2HTTPResponse, bool, error) {
		respond := func(res app.AccountResult) events.APIGatewayV2HTTPResponse { return success(c.route, res, corr) }
		cmd.Once = once(g, respond)
		res, err := h.commands.Execute(ctx, cmd)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, false, err
		}
		l.Add("version", res.Version)
		// A command that found nothing to change wrote no commit, and so
		// no guard.
		return respond(res), res.Recorded > 0, nil
	})
}

// asked is what a request asked for, as its fingerprint takes it: an
// account's new id is made for each request, and is no part of it.
func asked(cmd account.Command) account.Command {
	if o, ok := cmd.(account.Open); ok {
		o.AccountID = ""
		return o
	}
	return cmd
}

// meta is what a command's commit records of its request, with the trace
// X-Ray keeps of it, if any.
func (h *Handler) meta(ctx context.Context, id httpapi.Identity, corr string) eventstore.Metadata {
	commandID := h.cfg.NewID()
	return eventstore.Metadata{CommandID: commandID, CorrelationID: corr, CausationID: commandID, Actor: id.Actor, TraceID: xray.FromContext(ctx)}
}

// once keeps, with a keyed command's commit, the response its result
// makes, so that a repeat of the request is given it back.
func once[R any](g *eventstore.Guard, respond func(R) events.APIGatewayV2HTTPResponse) *app.Once[R] {
	if g == nil {
		return nil
	}
	return &app.Once[R]{
		CommandID: g.CommandID, Fingerprint: g.Fingerprint, ExpiresAt: g.ExpiresAt,
		Outcome: func(r R) ([]byte, error) { return json.Marshal(storable(respond(r))) },
	}
}

// refused answers a command that did not run: a failed If-Match, or the
// problem the error names.
func (h *Handler) refused(err error, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	var pinned *app.PreconditionError
	if errors.As(err, &pinned) {
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
