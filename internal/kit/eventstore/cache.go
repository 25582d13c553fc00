package eventstore

import (
	"container/list"
	"sync"
)

// Cache keeps, for the streams a function instance has seen, the head and
// state it last saw them at, so that a command on a stream it has seen
// costs its conditional write alone. It is bounded in bytes (the states'
// JSON and their keys), keyed by fold, tenant and stream, and least
// recently used entries go first. Only Aggregate.Decide reads it, and only
// as the expected head of a write: Load, At and AsOf always read the table.
type Cache struct {
	mu      sync.Mutex
	max     int
	size    int
	order   *list.List // of *cacheEntry, most recently used first
	entries map[cacheKey]*list.Element
}

type cacheKey struct {
	fold   string
	stream StreamID
}

type cacheEntry struct {
	key   cacheKey
	head  Head
	state []byte
	size  int
}

// cacheEntryOverhead is what an entry costs beyond its state and key.
const cacheEntryOverhead = 128

// NewCache returns a cache of at most maxBytes.
func NewCache(maxBytes int) *Cache {
	return &Cache{max: maxBytes, order: list.New(), entries: map[cacheKey]*list.Element{}}
}

// Bytes is what the cache holds now, by the measure its bound uses.
func (c *Cache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Len is how many streams the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (c *Cache) get(fold string, stream StreamID) (Head, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[cacheKey{fold, stream}]
	if !ok {
		return Head{}, nil, false
	}
	c.order.MoveToFront(el)
	e := el.Value.(*cacheEntry)
	return e.head, e.state, true
}

// put keeps the state at head, unless it is older than what is kept: two
// commands of one instance may end out of order.
func (c *Cache) put(fold string, head Head, state []byte) {
	k := cacheKey{fold, head.stream}
	size := len(state) + len(fold) + len(head.stream.Key()) + cacheEntryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		if el.Value.(*cacheEntry).head.version > head.version {
			return
		}
		c.remove(el)
	}
	if size > c.max {
		return
	}
	for c.size+size > c.max {
		c.remove(c.order.Back())
	}
	c.entries[k] = c.order.PushFront(&cacheEntry{key: k, head: head, state: state, size: size})
	c.size += size
}

func (c *Cache) drop(fold string, stream StreamID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[cacheKey{fold, stream}]; ok {
		c.remove(el)
	}
}

func (c *Cache) remove(el *list.Element) {
	e := c.order.Remove(el).(*cacheEntry)
	delete(c.entries, e.key)
	c.size -= e.size
}
