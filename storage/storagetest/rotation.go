package storagetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

// grace is the retry window the rotation tests use.
const grace = 10 * time.Second

// rotation asks to rotate token into next for client-1, sealing next under
// the name "sealed-"+next, with a 10s grace and a 30m idle TTL.
func rotation(token, next string) storage.Rotation {
	return storage.Rotation{
		TokenHash:       token,
		ClientID:        "client-1",
		NewTokenHash:    next,
		SuccessorSealed: []byte("sealed-" + next),
		Grace:           grace,
		IdleTTL:         30 * time.Minute,
	}
}

func testRotation(t *testing.T, open openState) {
	// setup stores grant g1 of client-1 with current token rt-g1, and moves
	// the clock one second on.
	setup := func(t *testing.T) (storage.State, *Clock, storage.Grant) {
		s, c := open(t)
		g := fullGrant(c, "g1", "u1", "s1", time.Hour, 24*time.Hour)
		mustOK(t, "CreateGrant", s.CreateGrant(t.Context(), g))
		c.Advance(time.Second)
		return s, c, g
	}
	// rotated is g after a rotation from its current token to next, now.
	rotated := func(c *Clock, g storage.Grant, next string) storage.Grant {
		g.PreviousHash, g.TokenHash = g.TokenHash, next
		g.RotatedAt = c.Now()
		g.SuccessorSealed = []byte("sealed-" + next)
		g.ExpiresAt = c.Now().Add(30 * time.Minute)
		return g
	}
	// unchanged checks the stored grant is still want.
	unchanged := func(t *testing.T, s storage.State, want storage.Grant) {
		t.Helper()
		got, err := s.Grant(t.Context(), want.ID)
		mustOK(t, "Grant", err)
		assertEqual(t, "stored grant", want, got)
	}

	t.Run("the current token rotates", func(t *testing.T) {
		s, c, g := setup(t)
		ctx := t.Context()
		got, sealed, err := s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-2"))
		mustOK(t, "RotateRefreshToken", err)
		if sealed != nil {
			t.Errorf("a rotation returned a sealed successor %q", sealed)
		}
		want := rotated(c, g, "rt-2")
		assertEqual(t, "rotated grant", want, got)
		unchanged(t, s, want)
		for _, h := range []string{"rt-2", "rt-g1"} {
			got, err := s.GrantByRefreshToken(ctx, h)
			mustOK(t, "GrantByRefreshToken "+h, err)
			assertEqual(t, "GrantByRefreshToken "+h, want, got)
		}
		// The successor is current in turn.
		c.Advance(time.Second)
		got, _, err = s.RotateRefreshToken(ctx, rotation("rt-2", "rt-3"))
		mustOK(t, "RotateRefreshToken successor", err)
		assertEqual(t, "grant after two rotations", rotated(c, want, "rt-3"), got)
	})
	t.Run("claims and connector data are replaced only when set", func(t *testing.T) {
		s, c, g := setup(t)
		ctx := t.Context()
		r := rotation("rt-g1", "rt-2")
		claims := fullClaims("refreshed")
		r.Claims, r.ConnectorData = &claims, []byte("refreshed upstream data")
		got, _, err := s.RotateRefreshToken(ctx, r)
		mustOK(t, "RotateRefreshToken", err)
		want := rotated(c, g, "rt-2")
		want.Login.Claims, want.Login.ConnectorData = fullClaims("refreshed"), []byte("refreshed upstream data")
		assertEqual(t, "grant with new claims", want, got)
		unchanged(t, s, want)
		got, _, err = s.RotateRefreshToken(ctx, rotation("rt-2", "rt-3"))
		mustOK(t, "RotateRefreshToken without claims", err)
		assertEqual(t, "grant keeping its claims", rotated(c, want, "rt-3"), got)
	})
	t.Run("the previous token within grace gets the same successor", func(t *testing.T) {
		s, c, g := setup(t)
		ctx := t.Context()
		_, _, err := s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-2"))
		mustOK(t, "RotateRefreshToken", err)
		want := rotated(c, g, "rt-2")
		c.Advance(grace - ms)
		for _, next := range []string{"rt-retry-1", "rt-retry-2"} {
			got, sealed, err := s.RotateRefreshToken(ctx, rotation("rt-g1", next))
			mustOK(t, "RotateRefreshToken retry", err)
			if !bytes.Equal(sealed, []byte("sealed-rt-2")) {
				t.Errorf("retry got sealed successor %q, want %q", sealed, "sealed-rt-2")
			}
			assertEqual(t, "grant returned to the retry", want, got)
			unchanged(t, s, want)
			_, err = s.GrantByRefreshToken(ctx, next)
			wantErr(t, "GrantByRefreshToken of the retry's unused successor", err, storage.ErrNotFound)
		}
		c.Advance(ms)
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-2", "rt-3"))
		mustOK(t, "RotateRefreshToken of the current token after retries", err)
	})
	t.Run("the previous token after grace is reuse and revokes the grant", func(t *testing.T) {
		s, c, g := setup(t)
		ctx := t.Context()
		_, _, err := s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-2"))
		mustOK(t, "RotateRefreshToken", err)
		want := rotated(c, g, "rt-2")
		c.Advance(grace)
		_, sealed, err := s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-reuse"))
		wantErr(t, "RotateRefreshToken after grace", err, storage.ErrReuse)
		if sealed != nil {
			t.Errorf("reuse returned a sealed successor %q", sealed)
		}
		want.Revoked, want.RevokedAt = true, c.Now()
		unchanged(t, s, want)
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-2", "rt-3"))
		wantErr(t, "RotateRefreshToken of the current token after reuse", err, storage.ErrRevoked)
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-4"))
		wantErr(t, "RotateRefreshToken of the previous token after reuse", err, storage.ErrRevoked)
	})
	t.Run("the previous token with no grace is reuse", func(t *testing.T) {
		s, _, _ := setup(t)
		ctx := t.Context()
		_, _, err := s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-2"))
		mustOK(t, "RotateRefreshToken", err)
		r := rotation("rt-g1", "rt-reuse")
		r.Grace = 0
		_, _, err = s.RotateRefreshToken(ctx, r)
		wantErr(t, "RotateRefreshToken with Grace 0", err, storage.ErrReuse)
		got, err := s.Grant(ctx, "g1")
		mustOK(t, "Grant", err)
		if !got.Revoked {
			t.Errorf("grant not revoked after reuse")
		}
	})
	t.Run("an older token is reuse even within grace", func(t *testing.T) {
		s, _, _ := setup(t)
		ctx := t.Context()
		_, _, err := s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-2"))
		mustOK(t, "RotateRefreshToken", err)
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-2", "rt-3"))
		mustOK(t, "RotateRefreshToken", err)
		got, err := s.GrantByRefreshToken(ctx, "rt-g1")
		mustOK(t, "GrantByRefreshToken of an older token", err)
		if got.ID != "g1" {
			t.Errorf("GrantByRefreshToken of an older token: grant %q", got.ID)
		}
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-reuse"))
		wantErr(t, "RotateRefreshToken of an older token", err, storage.ErrReuse)
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-3", "rt-4"))
		wantErr(t, "RotateRefreshToken of the current token after reuse", err, storage.ErrRevoked)
	})
	t.Run("an unknown token is not found and revokes nothing", func(t *testing.T) {
		s, _, g := setup(t)
		ctx := t.Context()
		_, _, err := s.RotateRefreshToken(ctx, rotation("rt-unknown", "rt-2"))
		wantErr(t, "RotateRefreshToken", err, storage.ErrNotFound)
		unchanged(t, s, g)
		_, err = s.GrantByRefreshToken(ctx, "rt-2")
		wantErr(t, "GrantByRefreshToken of the refused successor", err, storage.ErrNotFound)
	})
	t.Run("another client's rotation is not found and revokes nothing", func(t *testing.T) {
		s, c, g := setup(t)
		ctx := t.Context()
		r := rotation("rt-g1", "rt-2")
		r.ClientID = "client-2"
		_, _, err := s.RotateRefreshToken(ctx, r)
		wantErr(t, "RotateRefreshToken of the current token", err, storage.ErrNotFound)
		unchanged(t, s, g)
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-3"))
		mustOK(t, "RotateRefreshToken by the right client", err)
		want := rotated(c, g, "rt-3")
		c.Advance(grace)
		r = rotation("rt-g1", "rt-4")
		r.ClientID = "client-2"
		_, _, err = s.RotateRefreshToken(ctx, r)
		wantErr(t, "RotateRefreshToken of the previous token", err, storage.ErrNotFound)
		unchanged(t, s, want)
	})
	t.Run("a revoked grant refuses every token", func(t *testing.T) {
		s, _, _ := setup(t)
		ctx := t.Context()
		_, _, err := s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-2"))
		mustOK(t, "RotateRefreshToken", err)
		mustOK(t, "RevokeGrant", s.RevokeGrant(ctx, "g1"))
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-2", "rt-3"))
		wantErr(t, "current token", err, storage.ErrRevoked)
		_, _, err = s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-4"))
		wantErr(t, "previous token within grace", err, storage.ErrRevoked)
	})
	t.Run("callers cannot alias the sealed successor", func(t *testing.T) {
		s, c, g := setup(t)
		ctx := t.Context()
		r := rotation("rt-g1", "rt-2")
		got, _, err := s.RotateRefreshToken(ctx, r)
		mustOK(t, "RotateRefreshToken", err)
		r.SuccessorSealed[0], got.SuccessorSealed[1] = 'X', 'Y'
		_, sealed, err := s.RotateRefreshToken(ctx, rotation("rt-g1", "rt-3"))
		mustOK(t, "RotateRefreshToken retry", err)
		sealed[2] = 'Z'
		unchanged(t, s, rotated(c, g, "rt-2"))
	})
}
