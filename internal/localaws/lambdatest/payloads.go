package lambdatest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"annals/internal/localaws/awstest"
)

// Payloads reads a function's golden payloads, events/<dir>/*.json, by file
// name. Every file needs an entry in expectations and every entry a file,
// so that a payload cannot be added untested or an expectation outlive its
// payload.
func Payloads[E any](t testing.TB, dir string, expectations map[string]E) map[string][]byte {
	t.Helper()
	root := awstest.ProjectRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "events", dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no payloads in events/%s: %v", dir, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		if _, ok := expectations[name]; !ok {
			t.Errorf("events/%s/%s has no expectation", dir, name)
		}
		out[name] = b
	}
	for name := range expectations {
		if _, ok := out[name]; !ok {
			t.Errorf("an expectation names %s, which is not in events/%s", name, dir)
		}
	}
	return out
}

// Payload reads one golden payload, events/<dir>/<name>, decoded as E and
// as it is on disk.
func Payload[E any](t testing.TB, dir, name string) (E, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(awstest.ProjectRoot(t), "events", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var ev E
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("events/%s/%s: %v", dir, name, err)
	}
	return ev, raw
}
