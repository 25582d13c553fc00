package personal_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/personal"
)

// OpenJSON opens every sealed string of a document, wherever it is, and
// leaves every other byte as it was: text that only looks sealed too.
func TestOpenJSONOpensWhatWasSealedAndNothingElse(t *testing.T) {
	ctx := t.Context()
	keys := personal.NewMemoryKeys()
	v := personal.NewVault(keys)
	ada, bob := personal.Subject{Tenant: "t1", ID: "ada"}, personal.Subject{Tenant: "t1", ID: "bob"}
	seal := func(s personal.Subject, value string) string {
		sealed, err := v.Seal(ctx, s, value)
		if err != nil {
			t.Fatal(err)
		}
		return sealed
	}
	owner, ref, other := seal(ada, `Ada "the Countess" <L>`), seal(ada, "rent"), seal(bob, "Bob")
	doc := `{"b":1,  "owner":"` + owner + `","items":[{"reference":"` + ref + `"},"` + other + `"],` +
		`"correlationId":"pd1:client:chosen","text":"he wrote \"pd1:ada:AAAA\"","forged":"pd1:nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","z":null}`
	want := `{"b":1,  "owner":"Ada \"the Countess\" \u003cL\u003e","items":[{"reference":"rent"},"Bob"],` +
		`"correlationId":"pd1:client:chosen","text":"he wrote \"pd1:ada:AAAA\"","forged":"pd1:nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","z":null}`
	got, err := v.OpenJSON(ctx, "t1", []byte(doc))
	if err != nil || string(got) != want {
		t.Fatalf("OpenJSON:\n got %s, %v\nwant %s", got, err, want)
	}
	if !json.Valid(got) {
		t.Errorf("not JSON: %s", got)
	}
	// Another tenant's key does not open them: shown sealed, never guessed.
	if got, err := v.OpenJSON(ctx, "t2", []byte(doc)); err != nil || !strings.Contains(string(got), owner) {
		t.Errorf("in another tenant: %s, %v", got, err)
	}

	if _, err := keys.Erase(ctx, ada, "dpo", time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err = v.OpenJSON(ctx, "t1", []byte(doc))
	if err != nil || strings.Contains(string(got), "Countess") || strings.Contains(string(got), "rent") ||
		strings.Count(string(got), personal.ErasedText) != 2 || !strings.Contains(string(got), `"Bob"`) {
		t.Errorf("after ada's erasure: %s, %v", got, err)
	}

	// A key store that fails fails the document: nothing is shown as
	// unsealed or erased on a guess.
	failing := personal.NewVault(failingKeys{personal.NewMemoryKeys()})
	if _, err := failing.OpenJSON(ctx, "t1", []byte(`{"x":"`+other+`"}`)); !errors.Is(err, errStore) {
		t.Errorf("with a failing store: %v", err)
	}
}

var errStore = errors.New("the store is down")

type failingKeys struct{ personal.Keys }

func (failingKeys) Key(context.Context, personal.Subject, bool) ([]byte, error) { return nil, errStore }

// FuzzOpenJSON: any document, sealed values in it or not, never panics,
// and a JSON document stays JSON.
func FuzzOpenJSON(f *testing.F) {
	ctx := context.Background()
	v := personal.NewVault(personal.NewMemoryKeys())
	sealed, err := v.Seal(ctx, personal.Subject{Tenant: "t1", ID: "f"}, "x")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{`{}`, `{"a":"` + sealed + `"}`, `["` + sealed + `","pd1:f:"]`, `"pd1:`, `{"a":"\"pd1:f:x"}`, `"pd1:f:AAAA"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, err := v.OpenJSON(ctx, "t1", []byte(doc))
		if err != nil {
			t.Fatalf("OpenJSON(%q): %v", doc, err)
		}
		if json.Valid([]byte(doc)) && !json.Valid(got) {
			t.Fatalf("OpenJSON(%q) = %q, not JSON", doc, got)
		}
	})
}
