package personaltest

import (
	"errors"
	"strings"
	"testing"

	"annals/internal/kit/personal"
)

// The vault's cases: what a Seal, an Open and a BlindIndex promise, over
// the key store under test.

const plain = "Ada Lovelace, 12 St James's Square"

func mustSeal(t *testing.T, v *personal.Vault, s personal.Subject, value string) string {
	t.Helper()
	sealed, err := v.Seal(ctx(t), s, value)
	if err != nil {
		t.Fatalf("seal for %s: %v", s, err)
	}
	return sealed
}

func mustOpen(t *testing.T, v *personal.Vault, tenant, value string) string {
	t.Helper()
	opened, err := v.Open(ctx(t), tenant, value)
	if err != nil {
		t.Fatalf("open %q in %s: %v", value, tenant, err)
	}
	return opened
}

func testSealOpen(t *testing.T, k personal.Keys) {
	v := personal.NewVault(k)
	s := subject("v-1")
	sealed := mustSeal(t, v, s, plain)
	if !personal.IsSealed(sealed) || strings.Contains(sealed, "Lovelace") {
		t.Fatalf("sealed value %q", sealed)
	}
	if id, ok := personal.SubjectOf(sealed); !ok || id != s.ID {
		t.Errorf("subject of the sealed value = %q, %v; want %q", id, ok, s.ID)
	}
	if got := mustOpen(t, v, s.Tenant, sealed); got != plain {
		t.Errorf("opened %q, want %q", got, plain)
	}
	if again := mustSeal(t, v, s, plain); again == sealed {
		t.Error("sealing a value twice gave the same text: equal values would show")
	}
	// Sealing made the key.
	mustKey(t, k, s, false)
	if _, ok := personal.SubjectOf(plain); ok {
		t.Error("a plain value has a subject")
	}
}

func testPassThrough(t *testing.T, k personal.Keys) {
	v := personal.NewVault(k)
	s := subject("p-1")
	if sealed := mustSeal(t, v, s, ""); sealed != "" {
		t.Errorf("sealing nothing gave %q", sealed)
	}
	if _, err := k.Key(ctx(t), s, false); !errors.Is(err, personal.ErrNoKey) {
		t.Errorf("sealing nothing made a key: %v", err)
	}
	for _, value := range []string{"", "written before the field was personal", "pd2:p-1:x"} {
		if got := mustOpen(t, v, s.Tenant, value); got != value {
			t.Errorf("open of the unsealed %q = %q", value, got)
		}
	}
}

func testOpenErased(t *testing.T, k personal.Keys) {
	v := personal.NewVault(k)
	s, other := subject("o-1"), subject("o-2")
	sealed := mustSeal(t, v, s, plain)
	kept := mustSeal(t, v, other, plain)
	mustErase(t, k, s, "operator-1")
	if got := mustOpen(t, v, s.Tenant, sealed); got != personal.ErasedText {
		t.Errorf("an erased subject's value opened as %q, want %q", got, personal.ErasedText)
	}
	if got := mustOpen(t, v, other.Tenant, kept); got != plain {
		t.Errorf("another subject's value opened as %q", got)
	}
	if _, err := v.Seal(ctx(t), s, plain); !errors.Is(err, personal.ErrErased) {
		t.Errorf("seal for an erased subject: %v, want ErrErased", err)
	}
	if _, err := v.BlindIndex(ctx(t), s, "email", plain); !errors.Is(err, personal.ErrErased) {
		t.Errorf("blind index for an erased subject: %v, want ErrErased", err)
	}
}

func testMoved(t *testing.T, k personal.Keys) {
	v := personal.NewVault(k)
	a, b := subject("m-1"), subject("m-2")
	sealed := mustSeal(t, v, a, plain)
	mustSeal(t, v, b, "b's own")
	moved := strings.Replace(sealed, ":"+a.ID+":", ":"+b.ID+":", 1)
	if got, err := v.Open(ctx(t), a.Tenant, moved); err == nil {
		t.Errorf("a value moved to another subject opened as %q", got)
	}
	// The same subject id in another tenant, with a key and without.
	if got, err := v.Open(ctx(t), "t3", sealed); err == nil {
		t.Errorf("a value moved to a tenant without the subject opened as %q", got)
	}
	mustSeal(t, v, personal.Subject{Tenant: "t2", ID: a.ID}, "t2's own")
	if got, err := v.Open(ctx(t), "t2", sealed); err == nil {
		t.Errorf("a value moved to another tenant opened as %q", got)
	}
}

func testTampered(t *testing.T, k personal.Keys) {
	v := personal.NewVault(k)
	s := subject("x-1")
	sealed := mustSeal(t, v, s, plain)
	head := len("pd1:" + s.ID + ":")
	var tampered []string
	for i := head; i < len(sealed); i++ {
		b := []byte(sealed)
		// Another character of the same alphabet, so that the value still
		// decodes and only the cipher can refuse it.
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		tampered = append(tampered, string(b))
	}
	tampered = append(tampered,
		sealed[:len(sealed)-1],
		sealed[:head+10],
		sealed+"A",
		sealed[:head+8]+"\n"+sealed[head+8:],
		"pd1:", "pd1:"+s.ID, "pd1:"+s.ID+":", "pd1:"+s.ID+":!!", "pd1::"+sealed[head:], "pd1:a b:"+sealed[head:])
	for _, value := range tampered {
		if got, err := v.Open(ctx(t), s.Tenant, value); err == nil {
			t.Errorf("tampered %q opened as %q", value, got)
		}
	}
}

func testBlindIndex(t *testing.T, k personal.Keys) {
	v := personal.NewVault(k)
	a, b := subject("b-1"), subject("b-2")
	if _, err := v.BlindIndex(ctx(t), a, "email", "x"); !errors.Is(err, personal.ErrNoKey) {
		t.Errorf("blind index without a key: %v, want ErrNoKey", err)
	}
	mustKey(t, k, a, true)
	mustKey(t, k, b, true)
	index := func(s personal.Subject, field, value string) string {
		t.Helper()
		i, err := v.BlindIndex(ctx(t), s, field, value)
		if err != nil {
			t.Fatalf("blind index of %s %s=%q: %v", s, field, value, err)
		}
		if i == "" || strings.Contains(i, value) {
			t.Fatalf("blind index %q of %q", i, value)
		}
		return i
	}
	x := index(a, "email", "a@example.com")
	if index(a, "email", "a@example.com") != x {
		t.Error("equal values have different blind indexes")
	}
	for name, other := range map[string]string{
		"another value":   index(a, "email", "b@example.com"),
		"another field":   index(a, "login", "a@example.com"),
		"another subject": index(b, "email", "a@example.com"),
	} {
		if other == x {
			t.Errorf("%s has the same blind index", name)
		}
	}
	mustErase(t, k, a, "operator-1")
	if _, err := v.BlindIndex(ctx(t), a, "email", "a@example.com"); !errors.Is(err, personal.ErrErased) {
		t.Errorf("blind index after erase: %v, want ErrErased", err)
	}
}
