package queryapi_test

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// The query function in template.yaml: its environment, read-only grants
// on exactly the tables it reads, and its GET routes (its own and those of
// the registry's views) on the HTTP API behind the JWT authorizer with the
// ledger:read scope.
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
	wantEnv := map[string]any{
		"EVENTS_TABLE":       awstest.Ref("EventsTable"),
		"TENANT_CLAIM":       awstest.Ref("TenantClaim"),
		"SUBJECT_KEYS_TABLE": awstest.Ref("SubjectKeysTable"),
		"PERSONAL_DATA_KEY":  awstest.Ref("PersonalDataKey"),
		"ARCHIVE_BUCKET":     awstest.Ref("ArchiveBucket"),
	}
	want := []awstest.Grant{
		{Actions: []string{"dynamodb:Query"}, Resource: awstest.GetAtt("EventsTable", "Arn")},
		{Actions: []string{"dynamodb:GetItem"}, Resource: awstest.GetAtt("SubjectKeysTable", "Arn")},
		{Actions: []string{"kms:Decrypt"}, Resource: awstest.GetAtt("PersonalDataKey", "Arn")},
		// An archived account's history, from its archive.
		{Actions: []string{"s3:GetObject"}, Resource: map[string]any{"Fn::Sub": "${ArchiveBucket.Arn}/*"}},
	}
	for _, v := range views.All {
		wantEnv[v.Env] = awstest.ViewTableRef(v.Table)
		for _, g := range v.QueryGrants {
			want = append(want, awstest.Grant{Actions: slices.Sorted(slices.Values(g.Actions)), Resource: awstest.ViewTableArn(g.Resource, g.Suffix)})
		}
	}
	grants := p.Check(t, "functions/query", wantEnv, want)
	for _, g := range grants {
		for _, a := range g.Actions {
			// Reads only: no write of any kind, anywhere.
			// (kms:Decrypt unwraps a key to read personal data with.)
			if !slices.Contains([]string{"dynamodb:Query", "dynamodb:GetItem", "kms:Decrypt", "s3:GetObject"}, a) {
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
	for _, v := range views.All {
		if v.Routes == nil {
			continue
		}
		for _, r := range v.Routes(queryapi.ReadOnlyDynamoDB{}, "") {
			wantRoutes = append(wantRoutes, "GET "+r.Path)
		}
	}
	sort.Strings(wantRoutes)
	if !slices.Equal(routes, wantRoutes) {
		t.Errorf("routes %v, want %v", routes, wantRoutes)
	}
}
