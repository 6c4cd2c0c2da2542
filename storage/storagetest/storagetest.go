package storagetest

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/foyerid/foyer/storage"
)

// Run runs RunDirectory and RunState against the two halves of the Store
// that open returns. open is called once per subtest and must return a
// fresh, empty store whose halves both read clock.Now.
func Run(t *testing.T, open func(t *testing.T, clock *Clock) storage.Store) {
	t.Run("Directory", func(t *testing.T) {
		RunDirectory(t, func(t *testing.T, clock *Clock) storage.Directory {
			return open(t, clock).Directory
		})
	})
	t.Run("State", func(t *testing.T) {
		RunState(t, func(t *testing.T, clock *Clock) storage.State {
			return open(t, clock).State
		})
	})
}

// RunDirectory checks a storage.Directory against every contract in
// storage/directory.go. open is called once per subtest and must return a
// fresh, empty directory reading clock.Now; it registers its own cleanup.
func RunDirectory(t *testing.T, open func(t *testing.T, clock *Clock) storage.Directory) {
	d := func(t *testing.T) (storage.Directory, *Clock) {
		t.Helper()
		c := NewClock()
		return open(t, c), c
	}
	t.Run("Users", func(t *testing.T) { testUsers(t, d) })
	t.Run("UserUpdates", func(t *testing.T) { testUserUpdates(t, d) })
	t.Run("Identities", func(t *testing.T) { testIdentities(t, d) })
	t.Run("Clients", func(t *testing.T) { testClients(t, d) })
	t.Run("Connectors", func(t *testing.T) { testConnectors(t, d) })
	t.Run("Consents", func(t *testing.T) { testConsents(t, d) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, d) })
	t.Run("Ping", func(t *testing.T) {
		dir, _ := d(t)
		mustOK(t, "Ping", dir.Ping(t.Context()))
	})
	t.Run("DirectoryRaces", func(t *testing.T) { testDirectoryRaces(t, d) })
}

// RunState checks a storage.State against every contract in
// storage/state.go, expiry and concurrent races included. open is called
// once per subtest and must return a fresh, empty state store reading
// clock.Now; it registers its own cleanup.
func RunState(t *testing.T, open func(t *testing.T, clock *Clock) storage.State) {
	s := func(t *testing.T) (storage.State, *Clock) {
		t.Helper()
		c := NewClock()
		return open(t, c), c
	}
	t.Run("AuthRequests", func(t *testing.T) { testAuthRequests(t, s) })
	t.Run("AuthCodes", func(t *testing.T) { testAuthCodes(t, s) })
	t.Run("Grants", func(t *testing.T) { testGrants(t, s) })
	t.Run("GrantExpiry", func(t *testing.T) { testGrantExpiry(t, s) })
	t.Run("Rotation", func(t *testing.T) { testRotation(t, s) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, s) })
	t.Run("DeviceRequests", func(t *testing.T) { testDeviceRequests(t, s) })
	t.Run("ReplayCache", func(t *testing.T) { testReplayCache(t, s) })
	t.Run("RateLimits", func(t *testing.T) { testRateLimits(t, s) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, s) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, s) })
	t.Run("Sweep", func(t *testing.T) { testSweep(t, s) })
	t.Run("Ping", func(t *testing.T) {
		st, _ := s(t)
		mustOK(t, "Ping", st.Ping(t.Context()))
	})
	t.Run("StateRaces", func(t *testing.T) { testStateRaces(t, s) })
}

type openDir func(t *testing.T) (storage.Directory, *Clock)

type openState func(t *testing.T) (storage.State, *Clock)

// mustOK stops the test if err is not nil.
func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// sorted returns s sorted by key, so lists can be compared whatever order a
// backend returns them in.
func sorted[T any](s []T, key func(T) string) []T {
	s = slices.Clone(s)
	slices.SortFunc(s, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return s
}

// race runs fn(i) for i in [0, n) on n goroutines that all wait on one start
// barrier, so the calls really overlap, and returns when all are done.
func race(n int, fn func(i int)) {
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			fn(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
}
