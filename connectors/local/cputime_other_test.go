//go:build !unix

package local_test

import "time"

// cpuTime is not measured here; the tests that need it skip.
func cpuTime() (time.Duration, bool) { return 0, false }
