package personaltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"annals/internal/kit/personal"
	"annals/internal/kit/testclock"
)

// The cache's cases, over the key store under test: a cache changes how
// often the store is asked, never what a key reads as, except that an
// erasure made elsewhere reaches it within its life.

// counting counts the Key calls that reach the store. held, when set,
// makes a Key call wait, after the store answered, until it is closed.
type counting struct {
	personal.Keys
	mu    sync.Mutex
	calls int
	held  chan struct{}
	got   chan struct{}
}

func (c *counting) Key(ctx context.Context, s personal.Subject, create bool) ([]byte, error) {
	key, err := c.Keys.Key(ctx, s, create)
	c.mu.Lock()
	c.calls++
	held, got := c.held, c.got
	c.mu.Unlock()
	if held != nil {
		close(got)
		<-held
	}
	return key, err
}

// reset returns the calls since the last reset.
func (c *counting) reset() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.calls
	c.calls = 0
	return n
}

const ttl = time.Minute

func newCache(k personal.Keys, size int) (*personal.Cache, *counting, *testclock.Clock) {
	store := &counting{Keys: k}
	clock := testclock.New(testclock.Start, 0)
	return personal.NewCache(store, ttl, size, clock.Now), store, clock
}

func testCacheHits(t *testing.T, k personal.Keys) {
	c, store, _ := newCache(k, 10)
	s := subject("h-1")
	if _, err := c.Key(ctx(t), s, false); !errors.Is(err, personal.ErrNoKey) {
		t.Fatalf("key through the cache before one exists: %v", err)
	}
	// No key is not kept: asking to create one then makes it.
	made := mustKey(t, c, s, true)
	store.reset()
	for range 5 {
		if got := mustKey(t, c, s, false); !bytes.Equal(got, made) {
			t.Fatal("the cache answered another key")
		}
	}
	if n := store.reset(); n != 0 {
		t.Errorf("%d of 5 reads of a cached key reached the store", n)
	}
	// What the caller does with the key it got changes nothing cached.
	got := mustKey(t, c, s, false)
	got[0] ^= 0xff
	if again := mustKey(t, c, s, false); !bytes.Equal(again, made) {
		t.Error("changing a returned key changed the cached one")
	}
	v := personal.NewVault(c)
	sealed := mustSeal(t, v, s, plain)
	if mustOpen(t, v, s.Tenant, sealed) != plain {
		t.Error("a value sealed through the cache does not open")
	}
	if n := store.reset(); n != 0 {
		t.Errorf("a seal and an open with a cached key asked the store %d times", n)
	}
}

func testCacheExpiry(t *testing.T, k personal.Keys) {
	c, store, clock := newCache(k, 10)
	s := subject("y-1")
	made := mustKey(t, c, s, true)
	// Erased elsewhere: this cache holds the key until its entry expires.
	mustErase(t, k, s, "operator-1")
	clock.Advance(ttl - time.Nanosecond)
	if got := mustKey(t, c, s, false); !bytes.Equal(got, made) {
		t.Error("the cache did not answer within its life")
	}
	store.reset()
	clock.Advance(time.Nanosecond)
	if _, err := c.Key(ctx(t), s, false); !errors.Is(err, personal.ErrErased) {
		t.Errorf("key after the entry expired: %v, want ErrErased", err)
	}
	if n := store.reset(); n != 1 {
		t.Errorf("an expired entry asked the store %d times, want 1", n)
	}
	// The erasure is kept for a life too.
	if _, err := c.Key(ctx(t), s, true); !errors.Is(err, personal.ErrErased) {
		t.Errorf("key of a subject known erased: %v, want ErrErased", err)
	}
	if n := store.reset(); n != 0 {
		t.Errorf("a cached erasure asked the store %d times", n)
	}
}

func testCacheErase(t *testing.T, k personal.Keys) {
	c, _, _ := newCache(k, 10)
	s := subject("z-1")
	v := personal.NewVault(c)
	sealed := mustSeal(t, v, s, plain)
	e, err := c.Erase(ctx(t), s, "operator-1", at)
	if err != nil || e.Subject != s {
		t.Fatalf("erase through the cache: %+v, %v", e, err)
	}
	if _, err := c.Key(ctx(t), s, false); !errors.Is(err, personal.ErrErased) {
		t.Errorf("key just after erasing through the cache: %v, want ErrErased", err)
	}
	if got := mustOpen(t, v, s.Tenant, sealed); got != personal.ErasedText {
		t.Errorf("opened %q just after erasing, want %q", got, personal.ErasedText)
	}
	if _, ok, err := c.Erasure(ctx(t), s); !ok || err != nil {
		t.Errorf("the store has no erasure: %v, %v", ok, err)
	}
}

// A read that got the key before the erasure and returns after it must
// not leave the key in the cache.
func testCacheEraseRace(t *testing.T, k personal.Keys) {
	c, store, _ := newCache(k, 10)
	s := subject("w-1")
	mustKey(t, k, s, true)
	store.mu.Lock()
	store.held, store.got = make(chan struct{}), make(chan struct{})
	held, got := store.held, store.got
	store.mu.Unlock()
	read := make(chan error, 1)
	go func() {
		_, err := c.Key(ctx(t), s, false)
		read <- err
	}()
	<-got
	store.mu.Lock()
	store.held = nil
	store.mu.Unlock()
	if _, err := c.Erase(ctx(t), s, "operator-1", at); err != nil {
		t.Fatal(err)
	}
	close(held)
	if err := <-read; err != nil {
		t.Fatalf("the read that raced the erasure: %v", err)
	}
	if key, err := c.Key(ctx(t), s, false); !errors.Is(err, personal.ErrErased) {
		t.Errorf("after the erasure the cache answered %x, %v; want ErrErased", key, err)
	}
}

func testCacheSize(t *testing.T, k personal.Keys) {
	const size = 3
	c, store, _ := newCache(k, size)
	var subjects []personal.Subject
	for i := range size + 1 {
		s := subject(fmt.Sprint("n-", i))
		subjects = append(subjects, s)
		mustKey(t, k, s, true)
	}
	for _, s := range subjects[:size] {
		mustKey(t, c, s, false)
	}
	store.reset()
	for _, s := range subjects[:size] {
		mustKey(t, c, s, false)
	}
	if n := store.reset(); n != 0 {
		t.Errorf("%d keys were asked again of a cache that holds them all", n)
	}
	// One more subject than the cache holds: going round them all again
	// must ask the store at least once.
	for _, s := range subjects {
		mustKey(t, c, s, false)
	}
	store.reset()
	for _, s := range subjects {
		mustKey(t, c, s, false)
	}
	if n := store.reset(); n == 0 {
		t.Errorf("a cache of %d held %d keys", size, len(subjects))
	}
}
