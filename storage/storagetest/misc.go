package storagetest

import (
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func testReplayCache(t *testing.T, open openState) {
	t.Run("a key is remembered until it expires", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		exp := c.Now().Add(time.Minute)
		mustOK(t, "Remember", s.Remember(ctx, "k", exp))
		wantErr(t, "Remember again", s.Remember(ctx, "k", exp), storage.ErrConflict)
		mustOK(t, "Remember another key", s.Remember(ctx, "other", exp))
		c.Advance(time.Minute - ms)
		wantErr(t, "Remember just before expiry", s.Remember(ctx, "k", exp.Add(time.Hour)), storage.ErrConflict)
		c.Advance(ms)
		mustOK(t, "Remember at expiry", s.Remember(ctx, "k", c.Now().Add(time.Minute)))
		wantErr(t, "Remember after renewal", s.Remember(ctx, "k", c.Now().Add(time.Minute)), storage.ErrConflict)
	})
}

func testRateLimits(t *testing.T, open openState) {
	t.Run("hits count per fixed window and reset in the next", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		// Start is 03:04:05, so the one-minute window is [03:04:00, 03:05:00).
		hit := func(key string, want int64) {
			t.Helper()
			got, err := s.Hit(ctx, key, time.Minute)
			mustOK(t, "Hit", err)
			if got != want {
				t.Errorf("Hit(%q) at %v = %d, want %d", key, c.Now().Format(time.TimeOnly+".000"), got, want)
			}
		}
		hit("a", 1)
		hit("a", 2)
		hit("b", 1)
		hit("a", 3)
		c.Advance(55*time.Second - ms) // 03:04:59.999
		hit("a", 4)
		c.Advance(ms) // 03:05:00: the next window
		hit("a", 1)
		hit("b", 1)
		hit("a", 2)
		c.Advance(2 * time.Minute) // a window later than the next
		hit("a", 1)
	})
}

func testKeys(t *testing.T, open openState) {
	t.Run("compare and swap", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		_, err := s.KeySet(ctx)
		wantErr(t, "KeySet when empty", err, storage.ErrNotFound)
		wantErr(t, "SwapKeySet expecting 1 when empty", s.SwapKeySet(ctx, 1, fullKeySet(c, "k0")), storage.ErrConflict)

		first := fullKeySet(c, "k1", "k2")
		first.Version = 42 // ignored: the store numbers versions
		mustOK(t, "SwapKeySet expecting 0", s.SwapKeySet(ctx, 0, first))
		first.Version = 1
		got, err := s.KeySet(ctx)
		mustOK(t, "KeySet", err)
		assertEqual(t, "KeySet version 1", first, got)

		wantErr(t, "SwapKeySet expecting 0 again", s.SwapKeySet(ctx, 0, fullKeySet(c, "k0")), storage.ErrConflict)
		c.Advance(time.Hour)
		second := fullKeySet(c, "k2", "k3", "k4")
		mustOK(t, "SwapKeySet expecting 1", s.SwapKeySet(ctx, 1, second))
		second.Version = 2
		wantErr(t, "SwapKeySet with a stale version", s.SwapKeySet(ctx, 1, fullKeySet(c, "k0")), storage.ErrConflict)
		wantErr(t, "SwapKeySet with a future version", s.SwapKeySet(ctx, 3, fullKeySet(c, "k0")), storage.ErrConflict)
		got, err = s.KeySet(ctx)
		mustOK(t, "KeySet", err)
		assertEqual(t, "KeySet version 2", second, got)
	})
	t.Run("callers cannot alias stored keys", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		ks := fullKeySet(c, "k1")
		want := fullKeySet(c, "k1")
		want.Version = 1
		mustOK(t, "SwapKeySet", s.SwapKeySet(ctx, 0, ks))
		ks.Keys[0].Sealed[0], ks.Keys[0].ID = 'X', "mutated"
		got, err := s.KeySet(ctx)
		mustOK(t, "KeySet", err)
		got.Keys[0].Public[0], got.Keys[0].Algorithm = 'Y', "none"
		got, err = s.KeySet(ctx)
		mustOK(t, "KeySet", err)
		assertEqual(t, "KeySet", want, got)
	})
}

func testLeases(t *testing.T, open openState) {
	t.Run("one holder at a time", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		const ttl = 10 * time.Second
		acquire := func(name, holder string, want bool) {
			t.Helper()
			got, err := s.AcquireLease(ctx, name, holder, ttl)
			mustOK(t, "AcquireLease", err)
			if got != want {
				t.Errorf("AcquireLease(%q, %q) at +%v = %v, want %v", name, holder, c.Now().Sub(Start), got, want)
			}
		}
		acquire("rotate", "a", true)
		acquire("rotate", "b", false)
		acquire("sweep", "b", true) // another lease is independent
		c.Advance(9 * time.Second)
		acquire("rotate", "a", true) // renewal: now held until +19s
		c.Advance(5 * time.Second)   // +14s: past the first term
		acquire("rotate", "b", false)
		c.Advance(5*time.Second - ms) // +18.999s
		acquire("rotate", "b", false)
		c.Advance(ms) // +19s: expired
		acquire("rotate", "b", true)
		acquire("rotate", "a", false)

		mustOK(t, "ReleaseLease by a non-holder", s.ReleaseLease(ctx, "rotate", "a"))
		acquire("rotate", "c", false)
		mustOK(t, "ReleaseLease by the holder", s.ReleaseLease(ctx, "rotate", "b"))
		acquire("rotate", "c", true)
		mustOK(t, "ReleaseLease of a free lease", s.ReleaseLease(ctx, "unknown", "a"))
	})
}

func testSweep(t *testing.T, open openState) {
	t.Run("sweep removes expired records only", func(t *testing.T) {
		s, c := open(t)
		sw, ok := s.(storage.Sweeper)
		if !ok {
			t.Skip("the backend is not a storage.Sweeper")
		}
		ctx := t.Context()
		for _, p := range []struct {
			name string
			ttl  time.Duration
		}{{"gone", time.Minute}, {"kept", time.Hour}} {
			mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest(c, "ar-"+p.name, p.ttl)))
			mustOK(t, "CreateAuthCode", s.CreateAuthCode(ctx, fullAuthCode(c, "code-"+p.name, p.ttl)))
			mustOK(t, "CreateGrant", s.CreateGrant(ctx, fullGrant(c, "g-"+p.name, "u1", "s1", p.ttl, 24*time.Hour)))
			mustOK(t, "CreateSession", s.CreateSession(ctx, fullSession(c, "s-"+p.name, "u1", p.ttl, 24*time.Hour)))
			mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, fullDevice(c, "dc-"+p.name, "UC-"+p.name, p.ttl)))
			mustOK(t, "Remember", s.Remember(ctx, "replay-"+p.name, c.Now().Add(p.ttl)))
			_, err := s.AcquireLease(ctx, "lease-"+p.name, "a", p.ttl)
			mustOK(t, "AcquireLease", err)
		}
		c.Advance(time.Minute)
		n, err := sw.Sweep(ctx)
		mustOK(t, "Sweep", err)
		if n <= 0 {
			t.Errorf("Sweep removed %d records, want some", n)
		}
		n, err = sw.Sweep(ctx)
		mustOK(t, "Sweep again", err)
		if n != 0 {
			t.Errorf("second Sweep removed %d records, want 0", n)
		}
		_, err = s.Grant(ctx, "g-gone")
		wantErr(t, "swept grant", err, storage.ErrNotFound)
		_, err = s.GrantByRefreshToken(ctx, "rt-g-gone")
		wantErr(t, "swept grant's token", err, storage.ErrNotFound)
		_, err = s.AuthRequest(ctx, "ar-kept")
		mustOK(t, "AuthRequest kept", err)
		_, err = s.RedeemAuthCode(ctx, "code-kept")
		mustOK(t, "RedeemAuthCode kept", err)
		_, err = s.Grant(ctx, "g-kept")
		mustOK(t, "Grant kept", err)
		_, err = s.Session(ctx, "s-kept")
		mustOK(t, "Session kept", err)
		_, err = s.DeviceRequestByUserCode(ctx, "UC-kept")
		mustOK(t, "DeviceRequest kept", err)
		wantErr(t, "Remember kept", s.Remember(ctx, "replay-kept", c.Now().Add(time.Hour)), storage.ErrConflict)
		mustOK(t, "Remember swept", s.Remember(ctx, "replay-gone", c.Now().Add(time.Hour)))
		held, err := s.AcquireLease(ctx, "lease-kept", "b", time.Minute)
		mustOK(t, "AcquireLease kept", err)
		if held {
			t.Errorf("sweep freed a live lease")
		}
	})
}
