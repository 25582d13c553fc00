// The project has three parts, and this test holds the lines between them
// (docs/architecture.md): the event-sourcing kit and the local AWS world
// know no application, and the ledger's domain knows no AWS and no store.
package internal_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const (
	kit      = "annals/internal/kit/"
	localaws = "annals/internal/localaws/"
	ledger   = "annals/internal/ledger/"
)

// domains are the ledger's pure packages: decisions and folds over plain
// values, tested without a store.
var domains = []string{ledger + "account", ledger + "transfer"}

func TestThePartsKeepTheirLines(t *testing.T) {
	deps := dependencies(t)
	var parts int
	for pkg, uses := range deps {
		switch {
		case strings.HasPrefix(pkg, kit), strings.HasPrefix(pkg, localaws):
			parts++
			for _, u := range uses {
				if strings.HasPrefix(u, ledger) {
					t.Errorf("%s (tests included) depends on the application package %s", pkg, u)
				}
			}
		case slices.Contains(domains, pkg):
			parts++
			for _, u := range uses {
				if strings.HasPrefix(u, "github.com/aws/") || strings.HasPrefix(u, kit+"eventstore") || strings.HasPrefix(u, kit+"awsconfig") {
					t.Errorf("the domain package %s (tests included) depends on %s", pkg, u)
				}
			}
		}
	}
	for _, want := range append([]string{kit + "eventstore", kit + "projection", localaws + "localstack"}, domains...) {
		if _, ok := deps[want]; !ok {
			t.Errorf("go list did not show %s: the test would check nothing of it", want)
		}
	}
	if parts < 10 {
		t.Errorf("only %d packages of the kit, the local world and the domain were checked", parts)
	}
}

// dependencies maps each package of the module to everything it depends
// on, directly or not, with its tests' dependencies added.
func dependencies(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-test", "-f", "{{.ImportPath}}\t{{join .Deps \" \"}}", "annals/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		path, uses, _ := strings.Cut(strings.TrimSpace(line), "\t")
		// A package's test variants are listed as "p [p.test]" and
		// "p_test [p.test]"; each counts as p.
		path, _, _ = strings.Cut(path, " ")
		path = strings.TrimSuffix(path, "_test")
		if strings.HasSuffix(path, ".test") {
			continue // the generated main of a test binary
		}
		deps[path] = append(deps[path], strings.Fields(uses)...)
	}
	return deps
}

// testOnly are modules that only tests may link: the OpenAPI validator
// that holds the API to its contract is large, and a Lambda function has
// a size budget (internal/ledger/functions).
var testOnly = []string{"github.com/pb33f/"}

func TestTestOnlyModulesStayInTests(t *testing.T) {
	// Without -test: what each package links when it is not a test.
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{join .Deps \" \"}}", "annals/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	functions := 0
	for line := range strings.Lines(string(out)) {
		pkg, uses, _ := strings.Cut(strings.TrimSpace(line), "\t")
		if strings.HasPrefix(pkg, "annals/functions/") {
			functions++
		}
		for _, u := range strings.Fields(uses) {
			for _, m := range testOnly {
				// A test helper is named for it, and only tests import it
				// (or the package that imports it would be caught here).
				if strings.HasPrefix(u, m) && !strings.HasSuffix(pkg, "test") {
					t.Errorf("%s links %s, which only tests may", pkg, u)
				}
			}
		}
	}
	if functions < 5 {
		t.Errorf("go list showed %d functions: the test would check little", functions)
	}
}
