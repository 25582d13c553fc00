package queryapi

import (
	"net/http"

	"annals/internal/kit/httpapi"
)

type route int

const (
	routeAccount route = iota + 1
	routeOwnerAccounts
	routeTransactions
	routeEvents
	routeTransfer
)

// routes are the query function's own routes, every one a GET, with
// their paths as template.yaml names them (the views' routes come with
// Config.Routes). match serves exactly these, and Routes lists them for
// the tests that hold the template and the API's contract to them.
var routes = []struct {
	route route
	path  string
}{
	{routeAccount, "/accounts/{id}"},
	{routeOwnerAccounts, "/accounts"},
	{routeTransactions, "/accounts/{id}/transactions"},
	{routeEvents, "/accounts/{id}/events"},
	{routeTransfer, "/transfers/{id}"},
}

// Routes lists the handler's own routes, keyed as API Gateway keys them
// ("GET /accounts/{id}").
func Routes() []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = r.route.String()
	}
	return out
}

// String is the route as API Gateway names it, for logs and cursors.
func (r route) String() string {
	for _, c := range routes {
		if c.route == r {
			return http.MethodGet + " " + c.path
		}
	}
	return ""
}

// match finds the query route of a path and the id in it (an account's
// or a transfer's). Every query route is a GET; another method on one of
// them is 405, any other path 404.
func match(method, path string) (r route, id string, p *httpapi.Problem) {
	for _, c := range routes {
		if vars, ok := httpapi.MatchPath(c.path, path); ok {
			r, id = c.route, vars["id"]
			break
		}
	}
	if r == 0 {
		return 0, "", httpapi.NewProblem(httpapi.KindRouteNotFound, "no route for "+method+" "+path)
	}
	if method != http.MethodGet {
		p := httpapi.NewProblem(httpapi.KindMethodNotAllowed, method+" is not allowed on "+path)
		p.Allow = http.MethodGet
		return 0, "", p
	}
	return r, id, nil
}
