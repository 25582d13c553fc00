package personal

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Cache keeps the keys a function used for a while, so that a warm
// function opens and seals without asking the store (and KMS) each time.
// An erasure therefore reaches a warm function that holds the key within
// the cache's life (docs/operations.md, "Personal data and erasure"); the function that
// erases forgets the key at once.
type Cache struct {
	Keys
	ttl  time.Duration
	now  func() time.Time
	size int

	mu      sync.Mutex
	entries map[Subject]cached
	// erasures counts the erasures made through the cache: a key read
	// from the store before one of them finished is not kept, so that a
	// read racing the erasure cannot put the erased key back.
	erasures uint64
}

type cached struct {
	key    []byte
	erased bool
	until  time.Time
}

// DefaultCacheTTL is how long a function keeps a key: an erasure reaches
// every warm instance within it, and a busy subject costs an instance one
// key read (a GetItem and a KMS Decrypt) per period.
const DefaultCacheTTL = 10 * time.Second

// NewCache returns the key store with a cache of at most size keys, each
// kept for ttl by the clock now.
func NewCache(keys Keys, ttl time.Duration, size int, now func() time.Time) *Cache {
	return &Cache{Keys: keys, ttl: ttl, now: now, size: size, entries: map[Subject]cached{}}
}

// Key is Keys.Key, from the cache while the entry lives.
func (c *Cache) Key(ctx context.Context, s Subject, create bool) ([]byte, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[s]
	erasures := c.erasures
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		if e.erased {
			return nil, ErrErased
		}
		return slices.Clone(e.key), nil
	}
	key, err := c.Keys.Key(ctx, s, create)
	switch {
	case err == nil:
		c.put(s, cached{key: slices.Clone(key), until: now.Add(c.ttl)}, erasures)
	case errors.Is(err, ErrErased):
		c.put(s, cached{erased: true, until: now.Add(c.ttl)}, erasures)
	}
	return key, err
}

// Erase is Keys.Erase, forgetting the key here at once.
func (c *Cache) Erase(ctx context.Context, s Subject, by string, at time.Time) (Erasure, error) {
	c.mu.Lock()
	delete(c.entries, s)
	c.mu.Unlock()
	e, err := c.Keys.Erase(ctx, s, by, at)
	c.mu.Lock()
	delete(c.entries, s)
	c.erasures++
	c.mu.Unlock()
	return e, err
}

// put keeps the entry unless an erasure went through the cache since the
// entry was read (erasures is the count then).
func (c *Cache) put(s Subject, e cached, erasures uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.erasures != erasures {
		return
	}
	if len(c.entries) >= c.size {
		// Full: drop what has expired, else an arbitrary entry. A key
		// dropped is read again, nothing worse.
		now := c.now()
		for k, old := range c.entries {
			if !now.Before(old.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.size {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[s] = e
}
