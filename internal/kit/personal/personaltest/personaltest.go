// Package personaltest is the key store's contract suite: one set of tests
// that every personal.Keys must pass, directly and through a Vault and a
// Cache, so that the in-memory store used by fast unit tests behaves
// exactly like the DynamoDB one.
package personaltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"annals/internal/kit/personal"
	"annals/internal/kit/testclock"
)

// NewKeys returns a fresh, empty key store for one test.
type NewKeys func(t *testing.T) personal.Keys

// Run runs the whole contract against key stores from newKeys.
func Run(t *testing.T, newKeys NewKeys) {
	tests := []struct {
		name string
		fn   func(*testing.T, personal.Keys)
	}{
		{"KeyIsMadeOnlyWhenAsked", testCreate},
		{"KeysArePerSubjectAndTenant", testKeysDiffer},
		{"ErasedSubjectHasNoKey", testErase},
		{"NeverKeyedSubjectCanBeErased", testEraseUnkeyed},
		{"ErasingAgainKeepsTheFirstRecord", testEraseTwice},
		{"RegisteredSubjectsAreFoundByValue", testRegister},
		{"LookupsAreScopedByTenantAndField", testLookupScope},
		{"ErasedSubjectIsNotFound", testEraseForgetsLookups},
		{"RegisterAfterEraseIsRefused", testRegisterErased},
		{"SubjectsAreValidated", testValidation},
		{"RacingCreatorsGetOneKey", testRacingCreate},
		{"RacingRegisterAndEraseLeaveNothingFindable", testRacingRegisterErase},
		{"VaultSealsAndOpens", testSealOpen},
		{"VaultKeepsEmptyAndUnsealedValues", testPassThrough},
		{"VaultReadsErasedValuesAsErased", testOpenErased},
		{"SealedValueOpensOnlyForItsSubject", testMoved},
		{"TamperedValueNeverOpens", testTampered},
		{"BlindIndex", testBlindIndex},
		{"CacheHitsStayOffTheStore", testCacheHits},
		{"CacheEntriesExpire", testCacheExpiry},
		{"CacheForgetsAnErasureAtOnce", testCacheErase},
		{"CacheKeepsNoKeyThatAnEraseRaced", testCacheEraseRace},
		{"CacheIsBounded", testCacheSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newKeys(t))
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// at is when the suite's erasures happen.
var at = testclock.Start.Add(90 * time.Minute)

func subject(id string) personal.Subject { return personal.Subject{Tenant: "t1", ID: id} }

func mustKey(t *testing.T, k personal.Keys, s personal.Subject, create bool) []byte {
	t.Helper()
	key, err := k.Key(ctx(t), s, create)
	if err != nil {
		t.Fatalf("key of %s (create %v): %v", s, create, err)
	}
	if len(key) != personal.KeySize {
		t.Fatalf("key of %s is %d bytes, want %d", s, len(key), personal.KeySize)
	}
	return key
}

func mustErase(t *testing.T, k personal.Keys, s personal.Subject, by string) personal.Erasure {
	t.Helper()
	e, err := k.Erase(ctx(t), s, by, at)
	if err != nil {
		t.Fatalf("erase %s: %v", s, err)
	}
	return e
}

func mustRegister(t *testing.T, k personal.Keys, s personal.Subject, field, value string) {
	t.Helper()
	if err := k.Register(ctx(t), s, field, value); err != nil {
		t.Fatalf("register %s %s=%q: %v", s, field, value, err)
	}
}

// found returns the ids registered with the value, failing on an error.
func found(t *testing.T, k personal.Keys, tenant, field, value string) []string {
	t.Helper()
	ids, err := k.Subjects(ctx(t), tenant, field, value)
	if err != nil {
		t.Fatalf("subjects with %s=%q in %s: %v", field, value, tenant, err)
	}
	return ids
}

func wantFound(t *testing.T, k personal.Keys, tenant, field, value string, want ...string) {
	t.Helper()
	if got := found(t, k, tenant, field, value); !slices.Equal(got, want) {
		t.Errorf("subjects with %s=%q in %s = %q, want %q", field, value, tenant, got, want)
	}
}

func testCreate(t *testing.T, k personal.Keys) {
	s := subject("c-1")
	if key, err := k.Key(ctx(t), s, false); !errors.Is(err, personal.ErrNoKey) || key != nil {
		t.Fatalf("key of a new subject without create = %x, %v; want ErrNoKey", key, err)
	}
	made := mustKey(t, k, s, true)
	if bytes.Equal(made, make([]byte, personal.KeySize)) {
		t.Error("the key made is all zeros")
	}
	if again := mustKey(t, k, s, false); !bytes.Equal(again, made) {
		t.Error("the key read back differs from the key made")
	}
	if again := mustKey(t, k, s, true); !bytes.Equal(again, made) {
		t.Error("asking to create a key that exists made another")
	}
	// What the caller does with the key it got changes nothing stored.
	made[0] ^= 0xff
	if again := mustKey(t, k, s, false); bytes.Equal(again, made) {
		t.Error("changing a returned key changed the stored one")
	}
}

func testKeysDiffer(t *testing.T, k personal.Keys) {
	a := mustKey(t, k, subject("d-1"), true)
	b := mustKey(t, k, subject("d-2"), true)
	other := mustKey(t, k, personal.Subject{Tenant: "t2", ID: "d-1"}, true)
	if bytes.Equal(a, b) || bytes.Equal(a, other) {
		t.Error("two subjects share a key")
	}
	if _, err := k.Key(ctx(t), personal.Subject{Tenant: "t3", ID: "d-1"}, false); !errors.Is(err, personal.ErrNoKey) {
		t.Errorf("the same id in a tenant where it has no key: %v, want ErrNoKey", err)
	}
}

func testErase(t *testing.T, k personal.Keys) {
	s, other := subject("e-1"), subject("e-2")
	mustKey(t, k, s, true)
	kept := mustKey(t, k, other, true)
	if _, ok, err := k.Erasure(ctx(t), s); ok || err != nil {
		t.Fatalf("erasure of a subject not erased: %v, %v; want none", ok, err)
	}
	e := mustErase(t, k, s, "operator-1")
	if want := (personal.Erasure{Subject: s, At: at, By: "operator-1"}); e.Subject != want.Subject || !e.At.Equal(at) || e.By != want.By {
		t.Errorf("erasure = %+v, want %+v", e, want)
	}
	for _, create := range []bool{false, true} {
		if key, err := k.Key(ctx(t), s, create); !errors.Is(err, personal.ErrErased) || key != nil {
			t.Errorf("key of an erased subject (create %v) = %x, %v; want ErrErased", create, key, err)
		}
	}
	got, ok, err := k.Erasure(ctx(t), s)
	if err != nil || !ok || got.Subject != s || !got.At.Equal(at) || got.By != "operator-1" {
		t.Errorf("erasure record = %+v, %v, %v; want %+v", got, ok, err, e)
	}
	if again := mustKey(t, k, other, false); !bytes.Equal(again, kept) {
		t.Error("erasing a subject changed another's key")
	}
	if _, ok, _ := k.Erasure(ctx(t), other); ok {
		t.Error("the other subject reads as erased")
	}
}

func testEraseUnkeyed(t *testing.T, k personal.Keys) {
	s := subject("u-1")
	mustErase(t, k, s, "operator-1")
	if _, err := k.Key(ctx(t), s, true); !errors.Is(err, personal.ErrErased) {
		t.Errorf("a key for a subject erased before it had one: %v, want ErrErased", err)
	}
	if _, ok, err := k.Erasure(ctx(t), s); !ok || err != nil {
		t.Errorf("erasure of a never-keyed subject: %v, %v; want recorded", ok, err)
	}
}

func testEraseTwice(t *testing.T, k personal.Keys) {
	s := subject("t-1")
	mustKey(t, k, s, true)
	first := mustErase(t, k, s, "operator-1")
	second, err := k.Erase(ctx(t), s, "operator-2", at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if second.Subject != s || !second.At.Equal(first.At) || second.By != "operator-1" {
		t.Errorf("second erasure returned %+v, want the first %+v", second, first)
	}
	if got, _, _ := k.Erasure(ctx(t), s); !got.At.Equal(at) || got.By != "operator-1" {
		t.Errorf("record after a second erasure = %+v, want the first", got)
	}
}

func testRegister(t *testing.T, k personal.Keys) {
	wantFound(t, k, "t1", "email", "a@example.com")
	for _, id := range []string{"r-3", "r-1", "r-2"} {
		mustRegister(t, k, subject(id), "email", "a@example.com")
	}
	mustRegister(t, k, subject("r-1"), "email", "a@example.com")
	mustRegister(t, k, subject("r-1"), "email", "b@example.com")
	// A subject without a key is found too: registering needs none.
	mustKey(t, k, subject("r-1"), true)
	wantFound(t, k, "t1", "email", "a@example.com", "r-1", "r-2", "r-3")
	wantFound(t, k, "t1", "email", "b@example.com", "r-1")
	wantFound(t, k, "t1", "email", "A@example.com")
	wantFound(t, k, "t1", "email", "")
}

func testLookupScope(t *testing.T, k personal.Keys) {
	mustRegister(t, k, subject("s-1"), "email", "x")
	mustRegister(t, k, personal.Subject{Tenant: "t2", ID: "s-2"}, "email", "x")
	mustRegister(t, k, subject("s-3"), "phone", "x")
	wantFound(t, k, "t1", "email", "x", "s-1")
	wantFound(t, k, "t2", "email", "x", "s-2")
	wantFound(t, k, "t1", "phone", "x", "s-3")
	wantFound(t, k, "t3", "email", "x")
	// The field and value are kept apart: no pair runs into another.
	mustRegister(t, k, subject("s-4"), "a", "b\x00c")
	wantFound(t, k, "t1", "a\x00b", "c")
}

func testEraseForgetsLookups(t *testing.T, k personal.Keys) {
	gone, stays := subject("f-1"), subject("f-2")
	mustKey(t, k, gone, true)
	mustRegister(t, k, gone, "email", "shared")
	mustRegister(t, k, gone, "email", "own")
	mustRegister(t, k, gone, "phone", "123")
	mustRegister(t, k, stays, "email", "shared")
	// The same id in another tenant is another subject.
	mustRegister(t, k, personal.Subject{Tenant: "t2", ID: gone.ID}, "email", "shared")
	mustErase(t, k, gone, "operator-1")
	wantFound(t, k, "t1", "email", "shared", "f-2")
	wantFound(t, k, "t1", "email", "own")
	wantFound(t, k, "t1", "phone", "123")
	wantFound(t, k, "t2", "email", "shared", gone.ID)
}

func testRegisterErased(t *testing.T, k personal.Keys) {
	s := subject("g-1")
	mustErase(t, k, s, "operator-1")
	if err := k.Register(ctx(t), s, "email", "x"); !errors.Is(err, personal.ErrErased) {
		t.Errorf("register after erase: %v, want ErrErased", err)
	}
	wantFound(t, k, "t1", "email", "x")
}

func testValidation(t *testing.T, k personal.Keys) {
	long := strings.Repeat("a", 129)
	for _, s := range []personal.Subject{
		{Tenant: "", ID: "v-1"},
		{Tenant: "t1", ID: ""},
		{Tenant: "t1", ID: long},
		{Tenant: "t1", ID: "a#b"},
		{Tenant: "t1", ID: "a b"},
		{Tenant: "t1", ID: "a:b"},
		{Tenant: "t1", ID: "é"},
	} {
		if _, err := k.Key(ctx(t), s, true); err == nil || errors.Is(err, personal.ErrNoKey) {
			t.Errorf("key of invalid %q: %v, want a validation error", s, err)
		}
		if _, err := k.Erase(ctx(t), s, "operator-1", at); err == nil {
			t.Errorf("erase of invalid %q succeeded", s)
		}
		if _, _, err := k.Erasure(ctx(t), s); err == nil {
			t.Errorf("erasure of invalid %q: no error", s)
		}
		if err := k.Register(ctx(t), s, "email", "x"); err == nil {
			t.Errorf("register of invalid %q succeeded", s)
		}
	}
	// Every allowed character, at the longest length.
	mustKey(t, k, personal.Subject{Tenant: "t1", ID: "Az09._-@+" + strings.Repeat("a", 119)}, true)
}

// racers is how many goroutines each race runs.
const racers = 16

func testRacingCreate(t *testing.T, k personal.Keys) {
	s := subject("k-1")
	keys := make([][]byte, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			keys[i], errs[i] = k.Key(ctx(t), s, true)
		})
	}
	close(start)
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("racer %d got another key than racer 0", i)
		}
	}
	if stored := mustKey(t, k, s, false); !bytes.Equal(stored, keys[0]) {
		t.Error("the stored key is not the one the racers got")
	}
}

func testRacingRegisterErase(t *testing.T, k personal.Keys) {
	for round := range 3 {
		s := subject(fmt.Sprintf("x-%d", round))
		mustKey(t, k, s, true)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, racers)
		for i := range racers {
			wg.Go(func() {
				<-start
				// Half share one value, half have their own.
				value := "shared"
				if i%2 == 1 {
					value = fmt.Sprint("own-", i)
				}
				errs[i] = k.Register(ctx(t), s, "email", value)
			})
		}
		var erased personal.Erasure
		var eraseErr error
		wg.Go(func() {
			<-start
			erased, eraseErr = k.Erase(ctx(t), s, "operator-1", at)
		})
		close(start)
		wg.Wait()
		if eraseErr != nil || erased.Subject != s {
			t.Fatalf("erase racing registrations: %+v, %v", erased, eraseErr)
		}
		for i, err := range errs {
			if err != nil && !errors.Is(err, personal.ErrErased) {
				t.Errorf("register %d: %v, want success or ErrErased", i, err)
			}
		}
		wantFound(t, k, "t1", "email", "shared")
		for i := 1; i < racers; i += 2 {
			wantFound(t, k, "t1", "email", fmt.Sprint("own-", i))
		}
	}
}
