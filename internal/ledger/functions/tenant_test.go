package functions_test

import (
	"log/slog"
	"strings"
	"testing"

	"annals/internal/kit/awsconfig"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/env"
	"annals/internal/ledger/functions"
	"annals/internal/localaws/awstest"
)

// The tenant claim the stack trusts by default names a Cognito custom
// attribute (custom:...), which an app client can be kept from writing and
// a pre-token-generation trigger adds to the access token, and not a claim
// a user could set on their own; the HTTP functions read the same name
// when the template leaves TENANT_CLAIM unset.
func TestTenantClaimDefaultsToAnAttributeUsersCannotWrite(t *testing.T) {
	p, ok := awstest.Template(t).Parameters["TenantClaim"]
	if !ok {
		t.Fatal("template.yaml has no TenantClaim parameter")
	}
	def, _ := p.Default.(string)
	if !strings.HasPrefix(def, "custom:") {
		t.Errorf("TenantClaim defaults to %q, want a custom attribute (custom:...), which only an administrator can be allowed to write", def)
	}
	for _, f := range functions.All {
		if !hasVar(f.Manifest, env.TenantClaim) {
			continue
		}
		v := wiring.Read(f.ID, f.Manifest, awsconfig.NewEnv(map[string]string{}, slog.New(slog.DiscardHandler)))
		if got := env.Auth(v).TenantClaim; got != def {
			t.Errorf("%s reads the claim %q when TENANT_CLAIM is unset, the template's default is %q", f.ID, got, def)
		}
	}
}

func hasVar(m wiring.Manifest, name string) bool {
	for _, v := range m.Env {
		if v.Name == name {
			return true
		}
	}
	return false
}
