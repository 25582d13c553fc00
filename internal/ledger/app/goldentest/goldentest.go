// Package goldentest reads the ledger's golden items: events written once
// by the code of schema version 1 (internal/ledger/app/testdata/golden-v1),
// which the app's and the views' tests fold, show and rebuild.
package goldentest

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/storetest"
)

// ItemsPath is the golden items' file.
var ItemsPath = func() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "testdata", "golden-v1", "items.json")
}()

// Items returns a memory backend holding the golden items.
func Items(t testing.TB) *eventstore.MemoryBackend {
	t.Helper()
	raw, err := os.ReadFile(ItemsPath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := storetest.LoadItemsJSON(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// liftedDefault matches the data subject that the lift of a version-1
// opening states (the account's own id) right after the account id, as
// the golden files are indented.
var liftedDefault = regexp.MustCompile(`("accountId": "([^"]*)",)\s*"dataSubject": "([^"]*)",`)

// WithoutLiftedDefaults drops from what golden items fold or rebuild into
// what version 2 of AccountOpened added with its stated default: the code
// that wrote them had no data subjects. A subject other than the default
// is kept, and so fails the comparison.
func WithoutLiftedDefaults(b []byte) []byte {
	return liftedDefault.ReplaceAllFunc(b, func(m []byte) []byte {
		g := liftedDefault.FindSubmatch(m)
		if !bytes.Equal(g[2], g[3]) {
			return m
		}
		return g[1]
	})
}
