package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// FreeAddr returns host:port for a port that is free now and that no other
// test process on this machine is handed out until t ends.
//
// A port picked by binding :0 and closing is in the kernel's ephemeral
// range, where any other test's httptest server (go test runs packages in
// parallel) may be given it before the child process that should bind it
// does, and the test then talks to the wrong server. FreeAddr picks below
// the ephemeral range, which the kernel never assigns on its own, and
// reserves the port with an exclusive lock file shared by every test
// process, released at cleanup.
func FreeAddr(t testing.TB, host string) string {
	t.Helper()
	addr, release, err := reservePort(host)
	if err != nil {
		t.Fatalf("testenv: free port on %s: %v", host, err)
	}
	t.Cleanup(release)
	return addr
}

// portLockDir holds one file per reserved port.
var portLockDir = filepath.Join(os.TempDir(), "foyer-test-ports")

func reservePort(host string) (string, func(), error) {
	if err := os.MkdirAll(portLockDir, 0o777); err != nil {
		return "", nil, err
	}
	low, high := 20000, ephemeralLow()-1
	if high-low < 1000 {
		low, high = 10000, 20000
	}
	for range 200 {
		port := low + rand.IntN(high-low)
		lock := filepath.Join(portLockDir, strconv.Itoa(port))
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			removeStale(lock)
			continue // reserved by another test process
		}
		fmt.Fprintf(f, "%d\n", os.Getpid())
		f.Close()
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			os.Remove(lock)
			continue
		}
		l.Close()
		return addr, func() { os.Remove(lock) }, nil
	}
	return "", nil, fmt.Errorf("no free port in [%d, %d) after 200 tries", low, high)
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}

// removeStale removes a lock whose process no longer runs (a test killed
// before its cleanup), so that its port can be handed out again.
func removeStale(lock string) {
	b, err := os.ReadFile(lock)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		_ = os.Remove(lock)
	}
}
