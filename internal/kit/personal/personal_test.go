package personal_test

import (
	"context"
	"testing"
	"time"

	"annals/internal/kit/personal"
	"annals/internal/kit/personal/personaltest"
	"annals/internal/kit/testclock"
)

func TestMemoryKeysContract(t *testing.T) {
	personaltest.Run(t, func(*testing.T) personal.Keys { return personal.NewMemoryKeys() })
}

// FuzzOpen feeds Open stored values of every shape: it must never panic,
// and a value that is not one Seal wrote never opens to a plaintext.
func FuzzOpen(f *testing.F) {
	ctx := context.Background()
	keys := personal.NewMemoryKeys()
	v := personal.NewVault(keys)
	alive, erased := personal.Subject{Tenant: "t1", ID: "f-1"}, personal.Subject{Tenant: "t1", ID: "f-2"}
	genuine := map[string]string{}
	for _, s := range []personal.Subject{alive, erased} {
		for _, value := range []string{"x", "Ada Lovelace", "a longer value, with some punctuation: ;,\"'"} {
			sealed, err := v.Seal(ctx, s, value)
			if err != nil {
				f.Fatal(err)
			}
			if s == alive {
				genuine[sealed] = value
			}
			f.Add(sealed)
		}
	}
	if _, err := keys.Erase(ctx, erased, "operator-1", testclock.Start); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", "plain", "pd1:", "pd1:f-1:", "pd1:f-1:AAAA", "pd1:f-9:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		got, err := v.Open(ctx, alive.Tenant, value)
		if err != nil {
			return
		}
		switch id, sealed := personal.SubjectOf(value); {
		case !personal.IsSealed(value):
			if got != value {
				t.Fatalf("unsealed %q opened as %q", value, got)
			}
		case sealed && id == erased.ID:
			if got != personal.ErasedText {
				t.Fatalf("%q of an erased subject opened as %q", value, got)
			}
		default:
			want, ok := genuine[value]
			if !ok || got != want {
				t.Fatalf("%q, which Seal did not write, opened as %q", value, got)
			}
		}
	})
}

// BenchmarkSealOpen is a field sealed and opened again with a key at hand,
// as a warm function does it: what the cipher costs, without the store.
func BenchmarkSealOpen(b *testing.B) {
	ctx := context.Background()
	clock := testclock.New(testclock.Start, 0)
	v := personal.NewVault(personal.NewCache(personal.NewMemoryKeys(), time.Minute, 1024, clock.Now))
	s := personal.Subject{Tenant: "t1", ID: "customer-0001"}
	const value = "Ada Lovelace, 12 St James's Square, London"
	b.ReportAllocs()
	for b.Loop() {
		sealed, err := v.Seal(ctx, s, value)
		if err != nil {
			b.Fatal(err)
		}
		got, err := v.Open(ctx, s.Tenant, sealed)
		if err != nil || got != value {
			b.Fatalf("opened %q, %v", got, err)
		}
	}
}
