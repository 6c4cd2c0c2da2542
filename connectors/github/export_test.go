package github

import (
	"context"
	"time"
)

// SetClock replaces a connector's clock and the wait before a
// rate-limited retry, so that tests never sleep.
func SetClock(c *Connector, now func() time.Time, wait func(context.Context, time.Duration) error) {
	c.now, c.wait = now, wait
}
