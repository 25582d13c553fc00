package functions_test

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"annals/internal/ledger/functions"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/lambdatest"
)

// checkBinary asserts the build settings every Lambda binary must carry.
func checkBinary(t *testing.T, path, arch string) {
	t.Helper()
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{
		"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": arch, "-tags": "lambda.norpc", "-trimpath": "true",
	} {
		if settings[k] != want {
			t.Errorf("%s: build setting %s = %q, want %q", path, k, settings[k], want)
		}
	}
	// -ldflags "-s -w" is not recorded under -trimpath; its effect is: no
	// symbol table, no DWARF.
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("%s has section %s: not built with -ldflags \"-s -w\"", path, s.Name)
		}
	}
}

func templateFunctions(t testing.TB) []string {
	ids := awstest.Template(t).Functions()
	if len(ids) == 0 {
		t.Fatal("no functions in template.yaml")
	}
	return ids
}

// maxBootstrap is the size target of a function's binary (docs/benchmarks.md):
// 9 MB, counted in 10^6 bytes.
const maxBootstrap = 9_000_000

// What `sam build` produced (make test runs it first) is what ships, and
// it stays within the size target.
func TestSAMBuildShipsStaticStrippedARMBinaries(t *testing.T) {
	root := awstest.ProjectRoot(t)
	for _, id := range templateFunctions(t) {
		p := filepath.Join(root, ".aws-sam", "build", id, "bootstrap")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v: run `make test` (or `make build`), which runs sam build first", id, err)
		}
		checkBinary(t, p, "arm64")
		if fi, err := os.Stat(p); err == nil && fi.Size() > maxBootstrap {
			t.Errorf("%s: bootstrap is %d bytes, over the %d-byte target: see what it links (docs/benchmarks.md)", id, fi.Size(), maxBootstrap)
		}
	}
}

// defaultChain is what the SDK's default configuration links: the config
// module and the clients of its credential chain (SSO, SSO-OIDC, STS,
// sign-in). A function reads its credentials from the environment Lambda
// gives it (awsconfig.LoadLambda, docs/adr/0007) and links none of them.
var defaultChain = []string{
	"github.com/aws/aws-sdk-go-v2/config",
	"github.com/aws/aws-sdk-go-v2/service/signin",
	"github.com/aws/aws-sdk-go-v2/service/sso",
	"github.com/aws/aws-sdk-go-v2/service/ssooidc",
	"github.com/aws/aws-sdk-go-v2/service/sts",
}

// localOnly are the packages of the local stack, its pages and the
// browser that tests them: no function links them.
var localOnly = []string{"annals/internal/localaws/", "annals/internal/ledger/explorer", "github.com/chromedp/"}

// ownClients are the project's own clients of an AWS service, which a
// function may link in place of the SDK's (docs/adr/0010), by service.
var ownClients = map[string]string{"annals/internal/kit/eventstore/s3archive": "s3"}

// A function links the SDK clients (or the project's own, ownClients) of
// the services its manifest grants it and no other, and not the default
// configuration: each client is a few hundred kilobytes of binary and of
// start-up work, so wiring that pulled in another function's client, or
// the default credential chain, would cost every cold start. Nor does it
// link what only runs locally.
func TestFunctionsLinkOnlyTheClientsTheyAreGranted(t *testing.T) {
	const sdk = "github.com/aws/aws-sdk-go-v2/service/"
	for _, id := range templateFunctions(t) {
		granted := map[string]bool{}
		for _, g := range functions.Manifests()[id].Grants {
			for _, a := range g.Actions {
				service, _, _ := strings.Cut(a, ":")
				granted[service] = true
			}
		}
		dir := strings.TrimSuffix(strings.ToLower(id), "function")
		cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "./functions/"+dir)
		cmd.Dir = awstest.ProjectRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: go list: %v\n%s", id, err, out)
		}
		var own []string
		for _, pkg := range strings.Fields(string(out)) {
			if slices.Contains(defaultChain, pkg) {
				t.Errorf("%s links %s, the SDK's default configuration: a function starts from awsconfig.LoadLambda and imports no awsconfig/defaultchain", id, pkg)
				continue
			}
			if slices.ContainsFunc(localOnly, func(p string) bool { return strings.HasPrefix(pkg, p) }) {
				t.Errorf("%s links %s, which only the local stack and the tests use", id, pkg)
				continue
			}
			if service, ok := ownClients[pkg]; ok {
				own = append(own, service)
				if !granted[service] {
					t.Errorf("%s links %s, a client of %s, which its manifest grants no action of", id, pkg, service)
				}
				continue
			}
			service, ok := strings.CutPrefix(pkg, sdk)
			if !ok || strings.Contains(service, "/") {
				continue // not a client package (types, endpoints)
			}
			own = append(own, service)
			if !granted[service] {
				t.Errorf("%s links the %s client, which its manifest grants no action of", id, service)
			}
		}
		if len(own) == 0 {
			t.Errorf("%s links no SDK client of its own", id)
		}
	}
}

// The copies the emulator tests run differ only in architecture.
func TestHostBuildsUseTheSameFlags(t *testing.T) {
	for _, id := range templateFunctions(t) {
		checkBinary(t, lambdatest.Build(t, id), runtime.GOARCH)
	}
}
