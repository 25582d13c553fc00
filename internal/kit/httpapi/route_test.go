package httpapi_test

import (
	"maps"
	"testing"

	"annals/internal/kit/httpapi"
)

func TestMatchPath(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		ok            bool
		vars          map[string]string
	}{
		{"/accounts", "/accounts", true, map[string]string{}},
		{"/accounts", "/accounts/", true, map[string]string{}},
		{"/accounts", "/accounts/a", false, nil},
		{"/accounts/{id}", "/accounts/a%20b", true, map[string]string{"id": "a%20b"}},
		{"/accounts/{id}", "/accounts/", false, nil},
		{"/accounts/{id}/deposits", "/accounts//deposits", false, nil},
		{"/accounts/{id}/deposits", "/accounts/a/deposits", true, map[string]string{"id": "a"}},
		{"/accounts/{id}/deposits", "/accounts/a/withdrawals", false, nil},
		{"/accounts/{id}/deposits", "/Accounts/a/deposits", false, nil},
		{"/", "/", true, map[string]string{}},
	} {
		vars, ok := httpapi.MatchPath(c.pattern, c.path)
		if ok != c.ok || !maps.Equal(vars, c.vars) {
			t.Errorf("MatchPath(%q, %q) = %v %v, want %v %v", c.pattern, c.path, vars, ok, c.vars, c.ok)
		}
	}
}
