package storagetest

import (
	"sync"
	"time"
)

// Start is the instant every Clock starts at. It is a whole second, so any
// backend that keeps at least millisecond precision round-trips it.
var Start = time.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC)

// Clock is a fake clock, safe for concurrent use. Its zero value reads Start;
// it only moves when Advance is called. Backends take Clock.Now as their
// clock function.
type Clock struct {
	mu  sync.Mutex
	off time.Duration
}

// NewClock returns a clock that reads Start.
func NewClock() *Clock { return &Clock{} }

// Now returns the clock's current instant, in UTC.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Start.Add(c.off)
}

// Advance moves the clock forward by d (backward if d is negative). The
// suite only advances by whole milliseconds.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}
