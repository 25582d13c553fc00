package queryapi_test

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	"annals/internal/localaws/awstest"
)

// The query function in template.yaml: its environment, read-only grants
// on exactly the tables it reads, and its four GET routes on the HTTP API
// behind the JWT authorizer with the ledger:read scope.
func TestTemplateWiresTheQueryFunction(t *testing.T) {
	p := awstest.TemplateFunction[struct {
		ApiId  any
		Method string
		Path   string
		Auth   struct {
			Authorizer          string
			AuthorizationScopes []string
		}
	}](t, "QueryFunction")
	grants := p.Check(t, "functions/query", map[string]any{
		"EVENTS_TABLE":    awstest.Ref("EventsTable"),
		"ACCOUNTS_TABLE":  awstest.ViewTableRef("AccountsTable"),
		"HISTORY_TABLE":   awstest.ViewTableRef("HistoryTable"),
		"TENANT_CLAIM":    awstest.Ref("TenantClaim"),
		"TRANSFERS_TABLE": awstest.ViewTableRef("TransfersTable"),
	}, []awstest.Grant{
		{Actions: []string{"dynamodb:Query"}, Resource: awstest.GetAtt("EventsTable", "Arn")},
		{Actions: []string{"dynamodb:GetItem"}, Resource: awstest.ViewTableArn("AccountsTable", "")},
		{Actions: []string{"dynamodb:Query"}, Resource: awstest.ViewTableArn("AccountsTable", "/index/ByOwner")},
		{Actions: []string{"dynamodb:Query"}, Resource: awstest.ViewTableArn("HistoryTable", "")},
		{Actions: []string{"dynamodb:GetItem"}, Resource: awstest.ViewTableArn("TransfersTable", "")},
	})
	for _, g := range grants {
		for _, a := range g.Actions {
			// Reads only: no write of any kind, anywhere.
			if !slices.Contains([]string{"dynamodb:Query", "dynamodb:GetItem"}, a) {
				t.Errorf("action %s is not a read", a)
			}
		}
	}
	var routes []string
	for name, e := range p.Events {
		ep := e.Properties
		if e.Type != "HttpApi" || !reflect.DeepEqual(ep.ApiId, awstest.Ref("HttpApi")) || ep.Auth.Authorizer != "JwtAuthorizer" ||
			!slices.Equal(ep.Auth.AuthorizationScopes, []string{"ledger:read"}) {
			t.Errorf("event %s = %+v", name, e)
		}
		routes = append(routes, ep.Method+" "+ep.Path)
	}
	sort.Strings(routes)
	wantRoutes := []string{"GET /accounts", "GET /accounts/{id}", "GET /accounts/{id}/events", "GET /accounts/{id}/transactions", "GET /transfers/{id}"}
	if !slices.Equal(routes, wantRoutes) {
		t.Errorf("routes %v, want %v", routes, wantRoutes)
	}
}
