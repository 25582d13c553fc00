// Package queryapi serves the ledger's read routes (API Gateway HTTP API,
// payload 2.0): the account view, an owner's accounts, an account's
// transaction history and its audit trail. It owns how reads choose
// between the query tables and the events table (time travel,
// read-your-writes), the cursors of its lists, and conditional GETs.
package queryapi

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/emf"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/personal"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
)

// Accounts is the account view as the query routes read it.
type Accounts interface {
	// Account returns the row (consistent read), or found false.
	Account(ctx context.Context, tenant, accountID string) (row views.AccountRow, found bool, err error)
	// AccountsOfOwnerPage returns up to limit of the owner's accounts with
	// ids after after, in id order.
	AccountsOfOwnerPage(ctx context.Context, tenant, owner, after string, limit int) ([]views.AccountRow, error)
}

// History is the transaction history as the query routes read it.
type History interface {
	// Transactions returns up to limit entries of the account, newest
	// first, with versions below before (0: from the newest).
	Transactions(ctx context.Context, tenant, accountID string, before int64, limit int) ([]views.HistoryEntry, error)
}

// Config wires a Handler.
type Config struct {
	// Store is the events table: time travel, read-your-writes when the
	// view lags, and the audit trail.
	Store *eventstore.Store
	// Vault opens the personal data in answers (personal.Vault.OpenJSON):
	// in the clear, or erased.
	Vault    *personal.Vault
	Accounts Accounts
	History  History
	// Transfers is the transfer view; without it transfers are read from
	// their streams only.
	Transfers Transfers
	// Routes are the read routes views serve of their own.
	Routes []views.Route
	Auth   httpapi.Auth
	NewID  func() string
	Log    *slog.Logger
	// Metrics, if set, makes each request's line its latency, DynamoDB
	// requests and capacity as CloudWatch metrics.
	Metrics *emf.Metrics
}

// Handler serves the query routes.
type Handler struct {
	cfg    Config
	replay *app.Accounts
}

// New returns a handler.
func New(cfg Config) *Handler {
	if cfg.Vault == nil {
		panic("queryapi: a handler without a vault cannot show personal data")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Handler{cfg: cfg, replay: app.NewAccounts(cfg.Store)}
}

// Handle serves one request. Like the command routes it never returns an
// error: every outcome is a response, failures are problem+json.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return httpapi.Serve(ctx, &req, h.cfg.Log, h.cfg.Metrics, "query", h.cfg.NewID, func(ctx context.Context, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
		return h.opened(ctx, &req, h.serve(ctx, &req, corr, l), corr, l)
	}), nil
}

// opened is the answer with the personal data it holds opened: every
// route's, the views' own included, in one place, so that none can show a
// sealed value or forget an erased one.
func (h *Handler) opened(ctx context.Context, req *events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	if resp.StatusCode >= 300 || !personal.MaySeal(resp.Body) {
		return resp
	}
	id, p := h.cfg.Auth.Identify(req, httpapi.ScopeRead)
	if p != nil {
		return l.Fail(p, corr)
	}
	body, err := h.cfg.Vault.OpenJSON(ctx, id.Tenant, []byte(resp.Body))
	if err != nil {
		return l.FailErr(err, corr)
	}
	resp.Body = string(body)
	return resp
}

func (h *Handler) serve(ctx context.Context, req *events.APIGatewayV2HTTPRequest, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	r, accountID, p := match(req.RequestContext.HTTP.Method, req.RawPath)
	if p != nil && p.Kind == httpapi.KindRouteNotFound {
		if extra, vars := h.matchExtra(req.RawPath); extra != nil {
			return h.serveExtra(ctx, req, extra, vars, corr, l)
		}
	}
	if p != nil {
		return l.Fail(p, corr)
	}
	l.Add("route", r.String())
	id, p := h.cfg.Auth.Identify(req, httpapi.ScopeRead)
	if p != nil {
		return l.Fail(p, corr)
	}
	params, p := parseParams(r, req)
	if p != nil {
		return l.Fail(p, corr)
	}
	if r == routeTransfer {
		return h.transfer(ctx, id.Tenant, accountID, corr, l)
	}
	c := call{tenant: id.Tenant, route: r, params: params, corr: corr, log: l}
	if r != routeOwnerAccounts {
		stream, err := app.AccountStream(id.Tenant, accountID)
		if err != nil {
			// No account can have this id.
			return l.Fail(httpapi.NewProblem(httpapi.KindNotFound, "no account with this id"), corr)
		}
		c.stream = stream
		l.Add("stream", stream.String())
	}
	if params.cursor != "" {
		cur, p := decodeCursor(params.cursor, c.tenant, r, c.scope())
		if p != nil {
			return l.Fail(p, corr)
		}
		c.cursor = &cur
	}
	switch r {
	case routeAccount:
		return h.account(ctx, req, c)
	case routeOwnerAccounts:
		return h.ownerAccounts(ctx, c)
	case routeTransactions:
		return h.transactions(ctx, c)
	default:
		return h.events(ctx, c)
	}
}

// call is one decoded, authorized request.
type call struct {
	tenant string
	route  route
	stream eventstore.StreamID // the account's, on the account routes
	params params
	cursor *cursor
	corr   string
	log    *httpapi.Line
}

// scope is what a cursor of this request must belong to within its route:
// the account stream, or the owner listed.
func (c call) scope() string {
	if c.route == routeOwnerAccounts {
		return c.params.owner
	}
	return c.stream.ID
}
