// Package storagetest is the conformance suite every storage backend runs:
// memory, SQLite, PostgreSQL and Redis prove they keep the contracts of
// storage/directory.go and storage/state.go by passing the same tests,
// expiry and concurrent races included.
//
// A backend calls the suite from its own _test.go file, with a function that
// opens a fresh, empty store reading the suite's fake clock:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T, clock *storagetest.Clock) storage.Store {
//			s := Open(t.TempDir()+"/foyer.db", WithClock(clock.Now))
//			t.Cleanup(func() { s.Close() })
//			return storage.Store{Directory: s, State: s}
//		})
//	}
//
// A backend that holds only one half calls RunDirectory or RunState instead.
// The open function:
//
//   - is called once per subtest and must return an empty store, not shared
//     with any other subtest (a new file, a new PostgreSQL schema, a new Redis
//     key prefix or database);
//   - must make the backend judge every expiry, lease and rate-limit window by
//     clock.Now, never by its own wall clock or by server time; the suite moves
//     the clock with Clock.Advance and never sleeps;
//   - registers its own cleanup with t.Cleanup; the suite never calls Close;
//   - skips (or, under CI=true, fails) through t when the service it needs is
//     missing.
//
// What the suite expects beyond the doc comments of the contracts, so that
// every backend agrees:
//
//   - Times round-trip to at least the millisecond. The suite builds every
//     time at millisecond precision and compares with time.Time.Equal, so
//     location and monotonic readings do not matter; a zero time comes back
//     zero. A nil slice and an empty one are equal.
//   - A record whose ExpiresAt (or a grant's or session's AbsoluteExpiresAt)
//     is at or before now is gone: it reads as storage.ErrNotFound, cannot be
//     updated, and no longer holds its unique keys (a device user code, a
//     replay-cache key, a lease).
//   - Deleting, unlinking, revoking or updating something that does not exist
//     is storage.ErrNotFound; list methods with nothing to list return an empty
//     result and no error; UserByUsername("") is ErrNotFound.
//   - Update callbacks cannot change a record's keys: the store keeps the ID
//     (and an identity's ConnectorID, Subject and UserID) whatever fn does.
//   - Rate-limit windows are aligned on the Unix epoch.
//   - RevokeSessionGrants("") revokes nothing; a non-positive IdleTTL or
//     idle duration leaves an expiry as it was.
//   - RevokeSessionGrants counts only grants it revoked now, not ones already
//     revoked; GrantByRefreshToken still finds a revoked grant.
//   - A rotation's grace window is [RotatedAt, RotatedAt+Grace): a retry
//     Grace after the rotation is reuse.
//   - Callers cannot alias stored data: changing a slice passed in or
//     returned does not change what is stored.
//
// The race tests start many goroutines behind one barrier and count the
// outcomes: of 100 concurrent redemptions of one code exactly one wins; of 50
// rotations of one refresh token exactly one rotates; one TakeAuthRequest,
// one ClaimDeviceCode, one AcquireLease, one LinkIdentity, one CreateUser per
// username, one SwapKeySet per version and one Remember per key win; Hit
// counts every concurrent hit once. Run them under -race.
//
// This package imports only storage, testing and the standard library; it
// must not import any backend.
package storagetest
