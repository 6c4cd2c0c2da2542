package storagetest

import (
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func grantID(g storage.Grant) string { return g.ID }

func testGrants(t *testing.T, open openState) {
	const idle, absolute = time.Hour, 24 * time.Hour
	t.Run("create and read back every field", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullGrant(c, "g1", "u1", "s1", idle, absolute)
		want.Offline = true
		want.Revoked, want.RevokedAt = true, at(c, -time.Millisecond)
		want.PreviousHash, want.RotatedAt = "rt-before-g1", at(c, -time.Minute)
		want.SuccessorSealed = []byte("sealed successor")
		mustOK(t, "CreateGrant", s.CreateGrant(ctx, want))
		got, err := s.Grant(ctx, "g1")
		mustOK(t, "Grant", err)
		assertEqual(t, "Grant", want, got)
		got, err = s.GrantByRefreshToken(ctx, want.TokenHash)
		mustOK(t, "GrantByRefreshToken", err)
		assertEqual(t, "GrantByRefreshToken", want, got)
	})
	t.Run("grants without a refresh token", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		a := storage.Grant{ID: "a", ExpiresAt: c.Now().Add(idle), AbsoluteExpiresAt: c.Now().Add(absolute)}
		b := storage.Grant{ID: "b", ExpiresAt: c.Now().Add(idle), AbsoluteExpiresAt: c.Now().Add(absolute)}
		mustOK(t, "CreateGrant a", s.CreateGrant(ctx, a))
		mustOK(t, "CreateGrant b (an empty token hash is no conflict)", s.CreateGrant(ctx, b))
		got, err := s.Grant(ctx, "a")
		mustOK(t, "Grant", err)
		assertEqual(t, "Grant", a, got)
		_, err = s.GrantByRefreshToken(ctx, "")
		wantErr(t, `GrantByRefreshToken("")`, err, storage.ErrNotFound)
	})
	t.Run("duplicate ID or token hash is a conflict", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		g := fullGrant(c, "g1", "u1", "s1", idle, absolute)
		mustOK(t, "CreateGrant", s.CreateGrant(ctx, g))
		sameID := fullGrant(c, "g1", "u1", "s1", idle, absolute)
		sameID.TokenHash = "rt-other"
		wantErr(t, "CreateGrant same ID", s.CreateGrant(ctx, sameID), storage.ErrConflict)
		sameToken := fullGrant(c, "g2", "u1", "s1", idle, absolute)
		sameToken.TokenHash = g.TokenHash
		wantErr(t, "CreateGrant same token hash", s.CreateGrant(ctx, sameToken), storage.ErrConflict)
		_, err := s.Grant(ctx, "g2")
		wantErr(t, "Grant after refused create", err, storage.ErrNotFound)
		got, err := s.GrantByRefreshToken(ctx, g.TokenHash)
		mustOK(t, "GrantByRefreshToken", err)
		assertEqual(t, "owner of the token", g, got)
	})
	t.Run("missing grant is not found", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		_, err := s.Grant(ctx, "nothing")
		wantErr(t, "Grant", err, storage.ErrNotFound)
		_, err = s.GrantByRefreshToken(ctx, "nothing")
		wantErr(t, "GrantByRefreshToken", err, storage.ErrNotFound)
		wantErr(t, "RevokeGrant", s.RevokeGrant(ctx, "nothing"), storage.ErrNotFound)
	})
	t.Run("revoke", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		g := fullGrant(c, "g1", "u1", "s1", idle, absolute)
		mustOK(t, "CreateGrant", s.CreateGrant(ctx, g))
		c.Advance(time.Second)
		mustOK(t, "RevokeGrant", s.RevokeGrant(ctx, "g1"))
		g.Revoked, g.RevokedAt = true, c.Now()
		got, err := s.Grant(ctx, "g1")
		mustOK(t, "Grant after revoke", err)
		assertEqual(t, "revoked grant", g, got)
		mustOK(t, "RevokeGrant twice", s.RevokeGrant(ctx, "g1"))
		got, err = s.GrantByRefreshToken(ctx, g.TokenHash)
		mustOK(t, "GrantByRefreshToken after revoke", err)
		if !got.Revoked {
			t.Errorf("GrantByRefreshToken after revoke: Revoked is false")
		}
		_, _, err = s.RotateRefreshToken(ctx, rotation(g.TokenHash, "rt-next"))
		wantErr(t, "RotateRefreshToken after revoke", err, storage.ErrRevoked)
	})
	t.Run("revoke session grants", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		online := fullGrant(c, "online", "u1", "S", idle, absolute)
		offline := fullGrant(c, "offline", "u1", "S", idle, absolute)
		offline.Offline = true
		already := fullGrant(c, "already", "u1", "S", idle, absolute)
		already.Revoked, already.RevokedAt = true, at(c, -time.Minute)
		otherSession := fullGrant(c, "other-session", "u1", "T", idle, absolute)
		expiring := fullGrant(c, "expiring", "u1", "S", time.Minute, absolute)
		for _, g := range []storage.Grant{online, offline, already, otherSession, expiring} {
			mustOK(t, "CreateGrant "+g.ID, s.CreateGrant(ctx, g))
		}
		c.Advance(time.Minute)
		n, err := s.RevokeSessionGrants(ctx, "S")
		mustOK(t, "RevokeSessionGrants", err)
		if n != 1 {
			t.Errorf("RevokeSessionGrants: revoked %d, want 1", n)
		}
		online.Revoked, online.RevokedAt = true, c.Now()
		for _, want := range []storage.Grant{online, offline, already, otherSession} {
			got, err := s.Grant(ctx, want.ID)
			mustOK(t, "Grant "+want.ID, err)
			assertEqual(t, "grant "+want.ID, want, got)
		}
		n, err = s.RevokeSessionGrants(ctx, "S")
		mustOK(t, "RevokeSessionGrants again", err)
		if n != 0 {
			t.Errorf("RevokeSessionGrants again: revoked %d, want 0", n)
		}
		n, err = s.RevokeSessionGrants(ctx, "unknown")
		mustOK(t, "RevokeSessionGrants unknown", err)
		if n != 0 {
			t.Errorf("RevokeSessionGrants unknown: revoked %d, want 0", n)
		}
		// Grants without a session belong to no session: "" revokes nothing.
		lone := fullGrant(c, "lone", "u1", "", idle, absolute)
		mustOK(t, "CreateGrant lone", s.CreateGrant(ctx, lone))
		n, err = s.RevokeSessionGrants(ctx, "")
		mustOK(t, "RevokeSessionGrants empty", err)
		if n != 0 {
			t.Errorf("RevokeSessionGrants(\"\"): revoked %d, want 0", n)
		}
		got, err := s.Grant(ctx, "lone")
		mustOK(t, "Grant lone", err)
		if got.Revoked {
			t.Error(`RevokeSessionGrants("") revoked a grant without a session`)
		}
	})
	t.Run("grants by user", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		live := fullGrant(c, "live", "u1", "s1", idle, absolute)
		revoked := fullGrant(c, "revoked", "u1", "s1", idle, absolute)
		expiring := fullGrant(c, "expiring", "u1", "s1", time.Minute, absolute)
		other := fullGrant(c, "other", "u2", "s2", idle, absolute)
		for _, g := range []storage.Grant{live, revoked, expiring, other} {
			mustOK(t, "CreateGrant "+g.ID, s.CreateGrant(ctx, g))
		}
		mustOK(t, "RevokeGrant", s.RevokeGrant(ctx, "revoked"))
		revoked.Revoked, revoked.RevokedAt = true, c.Now()
		c.Advance(time.Minute)
		got, err := s.GrantsByUser(ctx, "u1")
		mustOK(t, "GrantsByUser", err)
		assertEqual(t, "GrantsByUser", []storage.Grant{live, revoked}, sorted(got, grantID))
		got, err = s.GrantsByUser(ctx, "nobody")
		mustOK(t, "GrantsByUser unknown", err)
		if len(got) != 0 {
			t.Errorf("GrantsByUser unknown: %d grants", len(got))
		}
	})
}

func testGrantExpiry(t *testing.T, open openState) {
	t.Run("idle expiry", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		g := fullGrant(c, "g1", "u1", "s1", 10*time.Minute, time.Hour)
		mustOK(t, "CreateGrant", s.CreateGrant(ctx, g))
		c.Advance(10*time.Minute - ms)
		_, err := s.Grant(ctx, "g1")
		mustOK(t, "Grant just before ExpiresAt", err)
		_, err = s.GrantByRefreshToken(ctx, g.TokenHash)
		mustOK(t, "GrantByRefreshToken just before ExpiresAt", err)
		c.Advance(ms)
		_, err = s.Grant(ctx, "g1")
		wantErr(t, "Grant at ExpiresAt", err, storage.ErrNotFound)
		_, err = s.GrantByRefreshToken(ctx, g.TokenHash)
		wantErr(t, "GrantByRefreshToken at ExpiresAt", err, storage.ErrNotFound)
		_, _, err = s.RotateRefreshToken(ctx, rotation(g.TokenHash, "rt-next"))
		wantErr(t, "RotateRefreshToken at ExpiresAt", err, storage.ErrNotFound)
		wantErr(t, "RevokeGrant at ExpiresAt", s.RevokeGrant(ctx, "g1"), storage.ErrNotFound)
		list, err := s.GrantsByUser(ctx, "u1")
		mustOK(t, "GrantsByUser", err)
		if len(list) != 0 {
			t.Errorf("GrantsByUser lists %d expired grants", len(list))
		}
	})
	t.Run("rotation extends the idle expiry up to the absolute one", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		g := fullGrant(c, "g1", "u1", "s1", 10*time.Minute, 25*time.Minute)
		absolute := g.AbsoluteExpiresAt
		mustOK(t, "CreateGrant", s.CreateGrant(ctx, g))
		c.Advance(9 * time.Minute)
		r := rotation(g.TokenHash, "rt-2")
		r.IdleTTL = 10 * time.Minute
		got, _, err := s.RotateRefreshToken(ctx, r)
		mustOK(t, "RotateRefreshToken", err)
		if want := c.Now().Add(10 * time.Minute); !got.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt after rotation: %v, want now+IdleTTL %v", got.ExpiresAt, want)
		}
		c.Advance(9 * time.Minute) // past the first idle expiry
		r = rotation("rt-2", "rt-3")
		r.IdleTTL = 10 * time.Minute
		got, _, err = s.RotateRefreshToken(ctx, r)
		mustOK(t, "RotateRefreshToken past the first idle expiry", err)
		if !got.ExpiresAt.Equal(absolute) {
			t.Errorf("ExpiresAt after rotation: %v, want it capped at AbsoluteExpiresAt %v", got.ExpiresAt, absolute)
		}
		c.Advance(absolute.Sub(c.Now()) - ms)
		_, err = s.Grant(ctx, "g1")
		mustOK(t, "Grant just before AbsoluteExpiresAt", err)
		c.Advance(ms)
		_, err = s.Grant(ctx, "g1")
		wantErr(t, "Grant at AbsoluteExpiresAt", err, storage.ErrNotFound)
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-3", "rt-4"))
		wantErr(t, "RotateRefreshToken at AbsoluteExpiresAt", err, storage.ErrNotFound)
	})
	t.Run("the absolute expiry holds even if the idle one is later", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		g := fullGrant(c, "g1", "u1", "s1", time.Hour, 10*time.Minute)
		mustOK(t, "CreateGrant", s.CreateGrant(ctx, g))
		c.Advance(10*time.Minute - ms)
		_, err := s.Grant(ctx, "g1")
		mustOK(t, "Grant just before AbsoluteExpiresAt", err)
		c.Advance(ms)
		_, err = s.Grant(ctx, "g1")
		wantErr(t, "Grant at AbsoluteExpiresAt", err, storage.ErrNotFound)
		_, err = s.GrantByRefreshToken(ctx, g.TokenHash)
		wantErr(t, "GrantByRefreshToken at AbsoluteExpiresAt", err, storage.ErrNotFound)
	})
}
