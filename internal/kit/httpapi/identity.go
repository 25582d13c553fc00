package httpapi

import (
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Scopes the routes require.
const (
	ScopeWrite = "ledger:write"
	ScopeRead  = "ledger:read"
	// ScopeErase erases data subjects: no client that writes needs it.
	ScopeErase = "ledger:erase"
)

// Identity is who is calling, on behalf of which tenant.
type Identity struct {
	Tenant string
	Actor  string
	Scopes []string
}

// DefaultTenantClaim is the claim naming the tenant unless configured: a
// Cognito custom attribute, which only an administrator can be allowed to
// write. A tenant claim must never come from what a user can change about
// themselves: it is the whole of the isolation between tenants.
const DefaultTenantClaim = "custom:tenant"

// Auth reads identities from the claims API Gateway's JWT authorizer has
// verified. A deployed stack always has the authorizer; only a local run
// without one sets LocalTenant and LocalActor, which then hold every scope.
type Auth struct {
	// TenantClaim is the claim naming the tenant; empty for
	// DefaultTenantClaim.
	TenantClaim string
	LocalTenant string
	LocalActor  string
}

// Identify returns the caller's identity if it holds the scope.
func (a Auth) Identify(req *events.APIGatewayV2HTTPRequest, scope string) (Identity, *Problem) {
	jwt := req.RequestContext.Authorizer
	if jwt == nil || jwt.JWT == nil {
		if a.LocalTenant != "" && a.LocalActor != "" {
			return Identity{Tenant: a.LocalTenant, Actor: a.LocalActor, Scopes: []string{ScopeRead, ScopeWrite, ScopeErase}}, nil
		}
		return Identity{}, NewProblem(KindUnauthorized, "no verified token reached the function")
	}
	claims := jwt.JWT.Claims
	id := Identity{Tenant: claims[a.tenantClaim()], Actor: claims["sub"], Scopes: jwt.JWT.Scopes}
	if len(id.Scopes) == 0 {
		id.Scopes = strings.Fields(claims["scope"])
	}
	if id.Actor == "" {
		return Identity{}, NewProblem(KindUnauthorized, "the token has no subject")
	}
	if id.Tenant == "" || strings.Contains(id.Tenant, "#") {
		return Identity{}, NewProblem(KindForbidden, "the token names no valid tenant")
	}
	if !slices.Contains(id.Scopes, scope) {
		return Identity{}, NewProblem(KindForbidden, "the token lacks the scope "+scope)
	}
	return id, nil
}

func (a Auth) tenantClaim() string {
	if a.TenantClaim == "" {
		return DefaultTenantClaim
	}
	return a.TenantClaim
}
