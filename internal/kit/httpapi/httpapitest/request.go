// Package httpapitest builds HTTP API requests as API Gateway hands them to
// a function, for tests of the command and query routes.
package httpapitest

import (
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/httpapi"
)

// Request is one request. Headers may be given in any case: API Gateway
// (payload format 2.0) passes them lowercased, and so does Event.
type Request struct {
	Method, Path, Query, Body string
	RouteKey                  string
	Headers                   map[string]string
	// The verified token's claims and scopes; NoAuth sends none, as a
	// request API Gateway let through without an authorizer.
	Subject, Tenant string
	Scopes          []string
	NoAuth          bool
}

// Event is the request as the function receives it. A body is JSON unless
// a content-type header says otherwise.
func (r Request) Event() events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	if r.Body != "" {
		headers["content-type"] = "application/json"
	}
	for k, v := range r.Headers {
		headers[strings.ToLower(k)] = v
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: r.RouteKey, RawPath: r.Path, RawQueryString: r.Query, Headers: headers, Body: r.Body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.Path},
		},
	}
	if !r.NoAuth {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": r.Subject, httpapi.DefaultTenantClaim: r.Tenant},
				Scopes: r.Scopes,
			},
		}
	}
	return ev
}
