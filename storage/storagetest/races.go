package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

// countErrs tallies errs: how many are nil, and how many match each of the
// allowed sentinels. Any other error fails the test.
func countErrs(t *testing.T, what string, errs []error, allowed ...error) (ok int, by map[error]int) {
	t.Helper()
	by = map[error]int{}
next:
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		for _, a := range allowed {
			if errors.Is(err, a) {
				by[a]++
				continue next
			}
		}
		t.Errorf("%s: unexpected error %v", what, err)
	}
	return ok, by
}

func testDirectoryRaces(t *testing.T, open openDir) {
	t.Run("20 links of one identity: exactly one wins", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		const n = 20
		for i := range n {
			mustOK(t, "CreateUser", d.CreateUser(ctx, storage.User{ID: fmt.Sprintf("u%d", i)}))
		}
		errs := make([]error, n)
		race(n, func(i int) {
			errs[i] = d.LinkIdentity(ctx, fullIdentity(c, "ldap", "alice", fmt.Sprintf("u%d", i)))
		})
		ok, by := countErrs(t, "LinkIdentity", errs, storage.ErrConflict)
		if ok != 1 || by[storage.ErrConflict] != n-1 {
			t.Errorf("LinkIdentity: %d succeeded and %d conflicted, want 1 and %d", ok, by[storage.ErrConflict], n-1)
		}
	})
	t.Run("20 users with one username: exactly one wins", func(t *testing.T) {
		d, _ := open(t)
		ctx := t.Context()
		const n = 20
		errs := make([]error, n)
		race(n, func(i int) {
			errs[i] = d.CreateUser(ctx, storage.User{ID: fmt.Sprintf("u%d", i), Username: "alice"})
		})
		ok, by := countErrs(t, "CreateUser", errs, storage.ErrConflict)
		if ok != 1 || by[storage.ErrConflict] != n-1 {
			t.Errorf("CreateUser: %d succeeded and %d conflicted, want 1 and %d", ok, by[storage.ErrConflict], n-1)
		}
	})
}

func testStateRaces(t *testing.T, open openState) {
	t.Run("100 redemptions of one code: exactly one wins", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		const n = 100
		want := fullAuthCode(c, "code1", time.Minute)
		mustOK(t, "CreateAuthCode", s.CreateAuthCode(ctx, want))
		errs := make([]error, n)
		codes := make([]storage.AuthCode, n)
		race(n, func(i int) { codes[i], errs[i] = s.RedeemAuthCode(ctx, "code1") })
		ok, by := countErrs(t, "RedeemAuthCode", errs, storage.ErrAlreadyUsed)
		if ok != 1 || by[storage.ErrAlreadyUsed] != n-1 {
			t.Errorf("RedeemAuthCode: %d succeeded and %d already used, want 1 and %d", ok, by[storage.ErrAlreadyUsed], n-1)
		}
		for i := range n {
			if codes[i].ID != "code1" || codes[i].GrantID != want.GrantID {
				t.Errorf("redemption %d returned code %q (grant %q)", i, codes[i].ID, codes[i].GrantID)
			}
		}
	})
	t.Run("50 rotations of one token without grace: exactly one rotates", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		const n = 50
		mustOK(t, "CreateGrant", s.CreateGrant(ctx, fullGrant(c, "g1", "u1", "s1", time.Hour, 24*time.Hour)))
		errs := make([]error, n)
		sealed := make([][]byte, n)
		race(n, func(i int) {
			r := rotation("rt-g1", fmt.Sprintf("rt-next-%d", i))
			r.Grace = 0
			_, sealed[i], errs[i] = s.RotateRefreshToken(ctx, r)
		})
		rotations := 0
		for i := range n {
			if errs[i] == nil && sealed[i] == nil {
				rotations++
			}
		}
		if rotations != 1 {
			t.Errorf("RotateRefreshToken: %d rotations, want exactly 1", rotations)
		}
		ok, by := countErrs(t, "RotateRefreshToken", errs, storage.ErrReuse, storage.ErrRevoked)
		if ok != 1 || by[storage.ErrReuse]+by[storage.ErrRevoked] != n-1 {
			t.Errorf("RotateRefreshToken: %d nil, %d reuse, %d revoked; want 1 nil and %d refused",
				ok, by[storage.ErrReuse], by[storage.ErrRevoked], n-1)
		}
		g, err := s.Grant(ctx, "g1")
		mustOK(t, "Grant", err)
		if !g.Revoked {
			t.Errorf("grant not revoked after %d racing reuses", n-1)
		}
	})
	t.Run("50 rotations of one token within grace: one rotates, the rest get its successor", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		const n = 50
		mustOK(t, "CreateGrant", s.CreateGrant(ctx, fullGrant(c, "g1", "u1", "s1", time.Hour, 24*time.Hour)))
		errs := make([]error, n)
		sealed := make([][]byte, n)
		race(n, func(i int) {
			_, sealed[i], errs[i] = s.RotateRefreshToken(ctx, rotation("rt-g1", fmt.Sprintf("rt-next-%d", i)))
		})
		ok, _ := countErrs(t, "RotateRefreshToken", errs)
		if ok != n {
			t.Fatalf("RotateRefreshToken within grace: %d of %d succeeded", ok, n)
		}
		g, err := s.Grant(ctx, "g1")
		mustOK(t, "Grant", err)
		rotations := 0
		for i := range n {
			switch {
			case sealed[i] == nil:
				rotations++
				if g.TokenHash != fmt.Sprintf("rt-next-%d", i) {
					t.Errorf("rotation %d won, but the current token is %q", i, g.TokenHash)
				}
			case !bytes.Equal(sealed[i], g.SuccessorSealed):
				t.Errorf("retry %d got successor %q, want the winner's %q", i, sealed[i], g.SuccessorSealed)
			}
		}
		if rotations != 1 {
			t.Errorf("RotateRefreshToken: %d rotations, want exactly 1", rotations)
		}
	})
	t.Run("50 takes of one auth request: exactly one wins", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		const n = 50
		mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest(c, "ar1", time.Minute)))
		errs := make([]error, n)
		race(n, func(i int) { _, errs[i] = s.TakeAuthRequest(ctx, "ar1") })
		ok, by := countErrs(t, "TakeAuthRequest", errs, storage.ErrNotFound)
		if ok != 1 || by[storage.ErrNotFound] != n-1 {
			t.Errorf("TakeAuthRequest: %d took it and %d found nothing, want 1 and %d", ok, by[storage.ErrNotFound], n-1)
		}
	})
	t.Run("50 claims of one approved device code: exactly one wins", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		const n = 50
		d := fullDevice(c, "dc1", "AAAA-AAAA", time.Minute)
		login := fullLogin(c, "u1", "")
		d.Status, d.Login = storage.DeviceApproved, &login
		mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, d))
		errs := make([]error, n)
		race(n, func(i int) { _, errs[i] = s.ClaimDeviceCode(ctx, "dc1") })
		ok, by := countErrs(t, "ClaimDeviceCode", errs, storage.ErrAlreadyUsed)
		if ok != 1 || by[storage.ErrAlreadyUsed] != n-1 {
			t.Errorf("ClaimDeviceCode: %d claimed and %d already used, want 1 and %d", ok, by[storage.ErrAlreadyUsed], n-1)
		}
	})
	t.Run("20 holders racing for one lease: exactly one gets it", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		const n = 20
		errs := make([]error, n)
		got := make([]bool, n)
		race(n, func(i int) { got[i], errs[i] = s.AcquireLease(ctx, "rotate", fmt.Sprintf("holder-%d", i), time.Minute) })
		countErrs(t, "AcquireLease", errs)
		held := 0
		for _, g := range got {
			if g {
				held++
			}
		}
		if held != 1 {
			t.Errorf("AcquireLease: %d holders got the lease, want 1", held)
		}
	})
	t.Run("20 swaps from one version: exactly one wins", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		const n = 20
		mustOK(t, "SwapKeySet", s.SwapKeySet(ctx, 0, fullKeySet(c, "k0")))
		errs := make([]error, n)
		race(n, func(i int) { errs[i] = s.SwapKeySet(ctx, 1, fullKeySet(c, fmt.Sprintf("k%d", i+1))) })
		ok, by := countErrs(t, "SwapKeySet", errs, storage.ErrConflict)
		if ok != 1 || by[storage.ErrConflict] != n-1 {
			t.Errorf("SwapKeySet: %d swapped and %d conflicted, want 1 and %d", ok, by[storage.ErrConflict], n-1)
		}
		ks, err := s.KeySet(ctx)
		mustOK(t, "KeySet", err)
		if ks.Version != 2 {
			t.Errorf("KeySet version %d after one winning swap, want 2", ks.Version)
		}
	})
	t.Run("50 remembers of one key: exactly one wins", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		const n = 50
		errs := make([]error, n)
		race(n, func(i int) { errs[i] = s.Remember(ctx, "assertion-1", c.Now().Add(time.Minute)) })
		ok, by := countErrs(t, "Remember", errs, storage.ErrConflict)
		if ok != 1 || by[storage.ErrConflict] != n-1 {
			t.Errorf("Remember: %d remembered and %d conflicted, want 1 and %d", ok, by[storage.ErrConflict], n-1)
		}
	})
	t.Run("50 hits of one key count every hit once", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		const n = 50
		errs := make([]error, n)
		counts := make([]int64, n)
		race(n, func(i int) { counts[i], errs[i] = s.Hit(ctx, "login:alice", time.Hour) })
		countErrs(t, "Hit", errs)
		seen := make([]bool, n+1)
		for _, v := range counts {
			if v < 1 || v > n || seen[v] {
				t.Errorf("Hit returned %d twice or out of 1..%d", v, n)
				continue
			}
			seen[v] = true
		}
	})
}
