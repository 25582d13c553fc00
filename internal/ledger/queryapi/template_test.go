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
	fn, ok := awstest.Template(t).Resources["QueryFunction"]
	if !ok {
		t.Fatal("no QueryFunction in template.yaml")
	}
	var p struct {
		CodeUri     string
		Environment struct{ Variables map[string]any }
		Policies    []struct {
			Statement []struct {
				Effect   string
				Action   []string
				Resource any
			}
		}
		Events map[string]struct {
			Type       string
			Properties struct {
				ApiId  any
				Method string
				Path   string
				Auth   struct {
					Authorizer          string
					AuthorizationScopes []string
				}
			}
		}
	}
	if err := fn.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.CodeUri != "functions/query" {
		t.Errorf("CodeUri = %q", p.CodeUri)
	}
	ref := func(r string) map[string]any { return map[string]any{"Ref": r} }
	getAtt := func(r, a string) map[string]any { return map[string]any{"Fn::GetAtt": []any{r, a}} }
	wantEnv := map[string]any{
		"EVENTS_TABLE": ref("EventsTable"),
		"TENANT_CLAIM": ref("TenantClaim"),
	}
	for _, v := range views.All {
		wantEnv[v.Env] = awstest.ViewTableRef(v.Table)
	}
	if !reflect.DeepEqual(p.Environment.Variables, wantEnv) {
		t.Errorf("environment %v, want %v", p.Environment.Variables, wantEnv)
	}
	type grant struct {
		actions  []string
		resource any
	}
	want := []grant{{[]string{"dynamodb:Query"}, getAtt("EventsTable", "Arn")}}
	for _, v := range views.All {
		for _, g := range v.QueryGrants {
			want = append(want, grant{slices.Sorted(slices.Values(g.Actions)), awstest.ViewTableArn(g.Resource, g.Suffix)})
		}
	}
	var got []grant
	for _, pol := range p.Policies {
		for _, s := range pol.Statement {
			if s.Effect != "Allow" {
				t.Errorf("statement %+v", s)
			}
			for _, a := range s.Action {
				// Reads only: no write of any kind, anywhere.
				if !slices.Contains([]string{"dynamodb:Query", "dynamodb:GetItem"}, a) {
					t.Errorf("action %s is not a read", a)
				}
			}
			got = append(got, grant{slices.Sorted(slices.Values(s.Action)), s.Resource})
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("grants %+v, want %+v", got, want)
	}
	var routes []string
	for name, e := range p.Events {
		ep := e.Properties
		if e.Type != "HttpApi" || !reflect.DeepEqual(ep.ApiId, ref("HttpApi")) || ep.Auth.Authorizer != "JwtAuthorizer" ||
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
