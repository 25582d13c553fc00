package queryapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/httpapi"
	"annals/internal/ledger/views"
)

// matchExtra finds the route of Config.Routes the path matches, with the
// path's parameters.
func (h *Handler) matchExtra(path string) (*views.Route, map[string]string) {
	for i := range h.cfg.Routes {
		if vars, ok := httpapi.MatchPath(h.cfg.Routes[i].Path, path); ok {
			return &h.cfg.Routes[i], vars
		}
	}
	return nil, nil
}

// serveExtra answers a request on one of Config.Routes: only GET, with
// the caller's read scope and the route's parameters.
func (h *Handler) serveExtra(ctx context.Context, req *events.APIGatewayV2HTTPRequest, r *views.Route, vars map[string]string, corr string, l *httpapi.Line) events.APIGatewayV2HTTPResponse {
	l.Add("route", r.Path)
	if req.RequestContext.HTTP.Method != http.MethodGet {
		p := httpapi.NewProblem(httpapi.KindMethodNotAllowed, req.RequestContext.HTTP.Method+" is not allowed on "+req.RawPath)
		p.Allow = http.MethodGet
		return l.Fail(p, corr)
	}
	id, p := h.cfg.Auth.Identify(req, httpapi.ScopeRead)
	if p != nil {
		return l.Fail(p, corr)
	}
	q, p := queryValues(req)
	if p != nil {
		return l.Fail(p, corr)
	}
	if _, bad := knownParams(q, r.Params); len(bad) > 0 {
		return l.Fail(httpapi.Invalid(bad...), corr)
	}
	body, err := r.Serve(ctx, views.Request{Tenant: id.Tenant, Path: vars, Query: q})
	if err != nil {
		return l.FailErr(err, corr)
	}
	return httpapi.JSON(http.StatusOK, body, map[string]string{"Cache-Control": "private, no-cache"}, corr)
}
