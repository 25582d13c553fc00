// Package testclock is a clock for tests that is safe for concurrent use:
// it stands still until advanced, or steps on by a fixed duration at every
// reading, so that each commit of a test is recorded at a time of its own.
package testclock

import (
	"sync"
	"time"
)

// Start is when the tests' clocks start: 2026-03-01T09:00:00Z.
var Start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Clock is a test clock.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// New returns a clock at start that moves on by step just before every
// reading; with step 0 it stands still until advanced.
func New(start time.Time, step time.Duration) *Clock {
	return &Clock{now: start, step: step}
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
