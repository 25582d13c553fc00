package queryapi

import (
	"net/http"
	"strings"

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

// String is the route as API Gateway names it, for logs and cursors.
func (r route) String() string {
	switch r {
	case routeAccount:
		return "GET /accounts/{id}"
	case routeOwnerAccounts:
		return "GET /accounts"
	case routeTransactions:
		return "GET /accounts/{id}/transactions"
	case routeEvents:
		return "GET /accounts/{id}/events"
	case routeTransfer:
		return "GET /transfers/{id}"
	}
	return ""
}

// match finds the query route of a path and the account id in it. Every
// query route is a GET; another method on one of them is 405, any other
// path 404.
func match(method, path string) (r route, accountID string, p *httpapi.Problem) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "accounts":
		r = routeOwnerAccounts
	case len(parts) == 2 && parts[0] == "accounts" && parts[1] != "":
		r = routeAccount
	case len(parts) == 3 && parts[0] == "accounts" && parts[1] != "":
		switch parts[2] {
		case "transactions":
			r = routeTransactions
		case "events":
			r = routeEvents
		}
	case len(parts) == 2 && parts[0] == "transfers" && parts[1] != "":
		r = routeTransfer
	}
	if r == 0 {
		return 0, "", httpapi.NewProblem(httpapi.KindRouteNotFound, "no route for "+method+" "+path)
	}
	if method != http.MethodGet {
		p := httpapi.NewProblem(httpapi.KindMethodNotAllowed, method+" is not allowed on "+path)
		p.Allow = http.MethodGet
		return 0, "", p
	}
	if len(parts) > 1 {
		accountID = parts[1]
	}
	return r, accountID, nil
}
