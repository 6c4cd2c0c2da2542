package storagetest

import (
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func testAuthRequests(t *testing.T, open openState) {
	const ttl = 10 * time.Minute
	t.Run("create and read back every field", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullAuthRequest(c, "ar1", ttl)
		mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, want))
		got, err := s.AuthRequest(ctx, "ar1")
		mustOK(t, "AuthRequest", err)
		assertEqual(t, "AuthRequest", want, got)
	})
	t.Run("zero values round-trip", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := storage.AuthRequest{ID: "bare", MaxAge: -1, ExpiresAt: c.Now().Add(ttl)}
		mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, want))
		got, err := s.AuthRequest(ctx, "bare")
		mustOK(t, "AuthRequest", err)
		assertEqual(t, "AuthRequest", want, got)
	})
	t.Run("duplicate ID is a conflict", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest(c, "ar1", ttl)))
		wantErr(t, "CreateAuthRequest again", s.CreateAuthRequest(ctx, fullAuthRequest(c, "ar1", ttl)), storage.ErrConflict)
	})
	t.Run("update replaces, ExpiresAt included", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest(c, "ar1", ttl)))
		want := storage.AuthRequest{
			ID:             "ar1",
			ClientID:       "client-1",
			Step:           "login",
			ConnectorID:    "github",
			ConnectorState: []byte("new state"),
			MaxAge:         -1,
			CreatedAt:      at(c, -time.Second),
			ExpiresAt:      c.Now().Add(2 * ttl),
		}
		mustOK(t, "UpdateAuthRequest", s.UpdateAuthRequest(ctx, want))
		c.Advance(ttl)
		got, err := s.AuthRequest(ctx, "ar1")
		mustOK(t, "AuthRequest after the old expiry", err)
		assertEqual(t, "updated AuthRequest", want, got)
	})
	t.Run("expiry", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		for _, id := range []string{"read", "update", "take"} {
			mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, fullAuthRequest(c, id, ttl)))
		}
		c.Advance(ttl - ms)
		for _, id := range []string{"read", "update", "take"} {
			_, err := s.AuthRequest(ctx, id)
			mustOK(t, "AuthRequest just before ExpiresAt", err)
		}
		c.Advance(ms)
		_, err := s.AuthRequest(ctx, "read")
		wantErr(t, "AuthRequest at ExpiresAt", err, storage.ErrNotFound)
		wantErr(t, "UpdateAuthRequest at ExpiresAt", s.UpdateAuthRequest(ctx, fullAuthRequest(c, "update", ttl)), storage.ErrNotFound)
		_, err = s.TakeAuthRequest(ctx, "take")
		wantErr(t, "TakeAuthRequest at ExpiresAt", err, storage.ErrNotFound)
		// A request updated at expiry must not have come back.
		_, err = s.AuthRequest(ctx, "update")
		wantErr(t, "AuthRequest after refused update", err, storage.ErrNotFound)
	})
	t.Run("take reads and deletes", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullAuthRequest(c, "ar1", ttl)
		mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, want))
		got, err := s.TakeAuthRequest(ctx, "ar1")
		mustOK(t, "TakeAuthRequest", err)
		assertEqual(t, "TakeAuthRequest", want, got)
		_, err = s.TakeAuthRequest(ctx, "ar1")
		wantErr(t, "TakeAuthRequest twice", err, storage.ErrNotFound)
		_, err = s.AuthRequest(ctx, "ar1")
		wantErr(t, "AuthRequest after take", err, storage.ErrNotFound)
	})
	t.Run("missing request is not found", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		_, err := s.AuthRequest(ctx, "nothing")
		wantErr(t, "AuthRequest", err, storage.ErrNotFound)
		wantErr(t, "UpdateAuthRequest", s.UpdateAuthRequest(ctx, fullAuthRequest(c, "nothing", ttl)), storage.ErrNotFound)
		_, err = s.TakeAuthRequest(ctx, "nothing")
		wantErr(t, "TakeAuthRequest", err, storage.ErrNotFound)
		_, err = s.AuthRequest(ctx, "nothing")
		wantErr(t, "AuthRequest after refused update", err, storage.ErrNotFound)
	})
	t.Run("callers cannot alias stored data", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		r := fullAuthRequest(c, "ar1", ttl)
		want := fullAuthRequest(c, "ar1", ttl)
		mustOK(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
		r.ConnectorState[0], r.Scopes[0], r.Login.AMR[0] = 'X', "mutated", "mutated"
		got, err := s.AuthRequest(ctx, "ar1")
		mustOK(t, "AuthRequest", err)
		got.ConnectorState[0], got.Login.ConnectorData[0], got.Login.UserID = 'Y', 'Y', "mutated"
		got, err = s.AuthRequest(ctx, "ar1")
		mustOK(t, "AuthRequest", err)
		assertEqual(t, "AuthRequest", want, got)
	})
}

func testAuthCodes(t *testing.T, open openState) {
	const ttl = time.Minute
	t.Run("redeem once, then already used", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullAuthCode(c, "code1", ttl)
		mustOK(t, "CreateAuthCode", s.CreateAuthCode(ctx, want))
		got, err := s.RedeemAuthCode(ctx, "code1")
		mustOK(t, "RedeemAuthCode", err)
		assertEqual(t, "redeemed code", want, got)
		for range 2 {
			got, err = s.RedeemAuthCode(ctx, "code1")
			wantErr(t, "RedeemAuthCode again", err, storage.ErrAlreadyUsed)
			assertEqual(t, "code returned beside ErrAlreadyUsed", want, got)
		}
	})
	t.Run("zero values round-trip", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := storage.AuthCode{ID: "bare", ExpiresAt: c.Now().Add(ttl)}
		mustOK(t, "CreateAuthCode", s.CreateAuthCode(ctx, want))
		got, err := s.RedeemAuthCode(ctx, "bare")
		mustOK(t, "RedeemAuthCode", err)
		assertEqual(t, "code", want, got)
	})
	t.Run("duplicate ID is a conflict, used or not", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateAuthCode", s.CreateAuthCode(ctx, fullAuthCode(c, "code1", ttl)))
		wantErr(t, "CreateAuthCode again", s.CreateAuthCode(ctx, fullAuthCode(c, "code1", ttl)), storage.ErrConflict)
		_, err := s.RedeemAuthCode(ctx, "code1")
		mustOK(t, "RedeemAuthCode", err)
		wantErr(t, "CreateAuthCode after redeem", s.CreateAuthCode(ctx, fullAuthCode(c, "code1", ttl)), storage.ErrConflict)
		_, err = s.RedeemAuthCode(ctx, "code1")
		wantErr(t, "RedeemAuthCode after refused create", err, storage.ErrAlreadyUsed)
	})
	t.Run("expiry", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateAuthCode", s.CreateAuthCode(ctx, fullAuthCode(c, "unused", ttl)))
		mustOK(t, "CreateAuthCode", s.CreateAuthCode(ctx, fullAuthCode(c, "used", ttl)))
		_, err := s.RedeemAuthCode(ctx, "used")
		mustOK(t, "RedeemAuthCode", err)
		c.Advance(ttl - ms)
		_, err = s.RedeemAuthCode(ctx, "used")
		wantErr(t, "used code just before ExpiresAt", err, storage.ErrAlreadyUsed)
		c.Advance(ms)
		_, err = s.RedeemAuthCode(ctx, "unused")
		wantErr(t, "unused code at ExpiresAt", err, storage.ErrNotFound)
		_, err = s.RedeemAuthCode(ctx, "used")
		wantErr(t, "used code at ExpiresAt", err, storage.ErrNotFound)
	})
	t.Run("redeemable until just before ExpiresAt", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateAuthCode", s.CreateAuthCode(ctx, fullAuthCode(c, "code1", ttl)))
		c.Advance(ttl - ms)
		_, err := s.RedeemAuthCode(ctx, "code1")
		mustOK(t, "RedeemAuthCode just before ExpiresAt", err)
	})
	t.Run("unknown code is not found", func(t *testing.T) {
		s, _ := open(t)
		_, err := s.RedeemAuthCode(t.Context(), "nothing")
		wantErr(t, "RedeemAuthCode", err, storage.ErrNotFound)
	})
}
