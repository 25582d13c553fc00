package lambdatest_test

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"annals/internal/awstest"
	"annals/internal/lambdatest"
	"annals/internal/samtemplate"
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

func functions(t testing.TB) []string {
	tpl := awstest.Template(t)
	var ids []string
	for id, r := range tpl.Resources {
		if r.Type == "AWS::Serverless::Function" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Fatal("no functions in template.yaml")
	}
	return ids
}

// What `sam build` produced (make test runs it first) is what ships.
func TestSAMBuildShipsStaticStrippedARMBinaries(t *testing.T) {
	wd, _ := os.Getwd()
	root, err := samtemplate.ProjectRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range functions(t) {
		p := filepath.Join(root, ".aws-sam", "build", id, "bootstrap")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v: run `make test` (or `make build`), which runs sam build first", id, err)
		}
		checkBinary(t, p, "arm64")
	}
}

// The copies the emulator tests run differ only in architecture.
func TestHostBuildsUseTheSameFlags(t *testing.T) {
	for _, id := range functions(t) {
		checkBinary(t, lambdatest.Build(t, id), runtime.GOARCH)
	}
}
