package functions_test

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"annals/internal/kit/awsconfig"
	"annals/internal/ledger/env"
	"annals/internal/ledger/functions"
	"annals/internal/localaws/awstest"
)

// Every function of template.yaml has a wiring and a manifest, and each
// wiring builds from exactly the variables its manifest lists (it refuses
// to build on any drift, see internal/wiring).
func TestEveryFunctionIsWiredThroughItsManifest(t *testing.T) {
	root, tpl := awstest.ProjectRoot(t), awstest.Template(t)
	inTemplate := slices.Sorted(slices.Values(tpl.Functions()))
	if got := slices.Sorted(maps.Keys(functions.Wires())); !slices.Equal(got, inTemplate) {
		t.Fatalf("wired functions %v, template's %v", got, inTemplate)
	}
	if got := slices.Sorted(maps.Keys(functions.Manifests())); !slices.Equal(got, inTemplate) {
		t.Fatalf("manifests %v, template's functions %v", got, inTemplate)
	}
	for _, id := range inTemplate {
		vals := map[string]string{}
		for _, v := range functions.Manifests()[id].Env {
			vals[v.Name] = "x"
		}
		vals[env.SnapshotEvery] = "50"
		for _, days := range []string{env.ArchiveAfterDays, env.ArchiveScanEveryDays} {
			if _, ok := vals[days]; ok {
				vals[days] = "30"
			}
		}
		env := awsconfig.NewEnv(vals, slog.New(slog.DiscardHandler))
		h, err := functions.Wires()[id](context.Background(), env, aws.Config{Region: "us-east-1"})
		if err != nil || h == nil {
			t.Errorf("%s: handler %v, %v", id, h, err)
		}
		if err := env.Err(); err != nil {
			t.Errorf("%s: %v", id, err)
		}

		// The Lambda starts the same wiring: its main is that one line.
		dir := strings.TrimSuffix(strings.ToLower(id), "function")
		main, err := os.ReadFile(filepath.Join(root, "functions", dir, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"annals/internal/ledger/wiring/` + dir + `"`, "awsconfig.Start(" + dir + ".Wire)"} {
			if !strings.Contains(string(main), want) {
				t.Errorf("functions/%s/main.go does not contain %s", dir, want)
			}
		}
	}
}
