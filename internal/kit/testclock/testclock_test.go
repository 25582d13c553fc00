package testclock_test

import (
	"testing"
	"time"

	"annals/internal/kit/testclock"
)

func TestStandingClock(t *testing.T) {
	c := testclock.New(testclock.Start, 0)
	if a, b := c.Now(), c.Now(); !a.Equal(testclock.Start) || !b.Equal(a) {
		t.Errorf("readings %v, %v; want %v twice", a, b, testclock.Start)
	}
	c.Advance(25 * time.Hour)
	if got := c.Now(); !got.Equal(testclock.Start.Add(25 * time.Hour)) {
		t.Errorf("after Advance: %v", got)
	}
}

// A stepping clock moves before each reading: the first reading is already
// one step past the start.
func TestSteppingClock(t *testing.T) {
	c := testclock.New(testclock.Start, time.Second)
	for i := 1; i <= 3; i++ {
		if got, want := c.Now(), testclock.Start.Add(time.Duration(i)*time.Second); !got.Equal(want) {
			t.Errorf("reading %d = %v, want %v", i, got, want)
		}
	}
	c.Advance(time.Minute)
	if got, want := c.Now(), testclock.Start.Add(time.Minute+4*time.Second); !got.Equal(want) {
		t.Errorf("after Advance: %v, want %v", got, want)
	}
}
