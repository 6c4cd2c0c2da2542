//go:build unix

package local_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used so far (user and system,
// every thread). Comparing the work of two code paths by it is immune to
// the load other processes put on the machine, which wall time is not.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
