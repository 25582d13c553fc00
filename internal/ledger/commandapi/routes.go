package commandapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
)

type route int

const (
	routeOpen route = iota + 1
	routeDeposit
	routeWithdraw
	routeClose
	routeTransfer
	routeErase
)

// routes are the command routes, every one a POST, with their paths as
// template.yaml names them. match serves exactly these, and Routes lists
// them for the tests that hold the template and the API's contract to
// them.
var routes = []struct {
	route route
	path  string
}{
	{routeOpen, "/accounts"},
	{routeDeposit, "/accounts/{id}/deposits"},
	{routeWithdraw, "/accounts/{id}/withdrawals"},
	{routeClose, "/accounts/{id}/close"},
	{routeTransfer, "/transfers"},
	{routeErase, "/data-subjects/{subject}/erase"},
}

// Routes lists the routes the handler serves, keyed as API Gateway keys
// them ("POST /accounts/{id}/deposits").
func Routes() []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = http.MethodPost + " " + r.path
	}
	return out
}

// match finds the command route of a path. Every command route is a POST;
// another method on one of them is 405, any other path 404.
func match(method, path string) (r route, p *httpapi.Problem) {
	for _, c := range routes {
		if _, ok := httpapi.MatchPath(c.path, path); ok {
			r = c.route
			break
		}
	}
	if r == 0 {
		return 0, httpapi.NewProblem(httpapi.KindRouteNotFound, "no route for "+method+" "+path)
	}
	if method != http.MethodPost {
		p := httpapi.NewProblem(httpapi.KindMethodNotAllowed, method+" is not allowed on "+path)
		p.Allow = http.MethodPost
		return 0, p
	}
	return r, nil
}

type openBody struct {
	DataSubject    string          `json:"dataSubject"`
	Owner          *string         `json:"owner"`
	Currency       *string         `json:"currency"`
	OverdraftLimit json.RawMessage `json:"overdraftLimit"`
}

type moveBody struct {
	Amount       json.RawMessage `json:"amount"`
	Reference    string          `json:"reference"`
	Channel      string          `json:"channel"`
	Counterparty string          `json:"counterparty"`
}

// decode turns a request into a ledger command. Field rules beyond JSON
// types are the domain's (account.Decide validates every field at once).
func (h *Handler) decode(r route, req *events.APIGatewayV2HTTPRequest, body []byte) (command, *httpapi.Problem) {
	c := command{route: r}
	if r == routeOpen {
		c.accountID = h.cfg.NewID()
	} else {
		c.accountID = strings.Split(strings.Trim(req.RawPath, "/"), "/")[1]
	}
	if v := httpapi.Header(req, "If-Match"); v != "" && r != routeOpen {
		var p *httpapi.Problem
		if c.ifMatch, p = parseIfMatch(v); p != nil {
			return c, p
		}
	}
	if r == routeClose && len(strings.TrimSpace(string(body))) == 0 {
		c.cmd = account.Close{}
		return c, nil
	}
	if p := httpapi.RequireJSON(req); p != nil {
		return c, p
	}
	var fields []httpapi.FieldError
	switch r {
	case routeOpen:
		var b openBody
		if p := httpapi.DecodeJSON(body, &b); p != nil {
			return c, p
		}
		limit, _ := httpapi.Int64("overdraftLimit", b.OverdraftLimit, &fields)
		if b.Owner == nil {
			fields = append(fields, httpapi.FieldError{Field: "owner", Message: "is required"})
		}
		if b.Currency == nil {
			fields = append(fields, httpapi.FieldError{Field: "currency", Message: "is required"})
		}
		if len(fields) > 0 {
			return c, httpapi.Invalid(fields...)
		}
		c.cmd = account.Open{AccountID: c.accountID, DataSubject: b.DataSubject, Owner: *b.Owner, Currency: account.Currency(*b.Currency), OverdraftLimit: limit}
	case routeDeposit, routeWithdraw:
		var b moveBody
		if p := httpapi.DecodeJSON(body, &b); p != nil {
			return c, p
		}
		amount, ok := httpapi.Int64("amount", b.Amount, &fields)
		if !ok && len(fields) == 0 {
			fields = append(fields, httpapi.FieldError{Field: "amount", Message: "is required"})
		}
		if len(fields) > 0 {
			return c, httpapi.Invalid(fields...)
		}
		if r == routeDeposit {
			c.cmd = account.Deposit{Amount: amount, Reference: b.Reference, Channel: account.Channel(b.Channel), Counterparty: b.Counterparty}
		} else {
			c.cmd = account.Withdraw{Amount: amount, Reference: b.Reference, Channel: account.Channel(b.Channel), Counterparty: b.Counterparty}
		}
	case routeClose:
		var b struct{}
		if p := httpapi.DecodeJSON(body, &b); p != nil {
			return c, p
		}
		c.cmd = account.Close{}
	}
	return c, nil
}
