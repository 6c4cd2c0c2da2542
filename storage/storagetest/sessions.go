package storagetest

import (
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func sessionID(s storage.Session) string { return s.ID }

func testSessions(t *testing.T, open openState) {
	const idle, absolute = 10 * time.Minute, time.Hour
	t.Run("create and read back every field", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullSession(c, "s1", "u1", idle, absolute)
		mustOK(t, "CreateSession", s.CreateSession(ctx, want))
		got, err := s.Session(ctx, "s1")
		mustOK(t, "Session", err)
		assertEqual(t, "Session", want, got)
	})
	t.Run("zero values round-trip", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := storage.Session{ID: "bare", ExpiresAt: c.Now().Add(idle), AbsoluteExpiresAt: c.Now().Add(absolute)}
		mustOK(t, "CreateSession", s.CreateSession(ctx, want))
		got, err := s.Session(ctx, "bare")
		mustOK(t, "Session", err)
		assertEqual(t, "Session", want, got)
	})
	t.Run("duplicate ID is a conflict", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateSession", s.CreateSession(ctx, fullSession(c, "s1", "u1", idle, absolute)))
		wantErr(t, "CreateSession again", s.CreateSession(ctx, fullSession(c, "s1", "u2", idle, absolute)), storage.ErrConflict)
	})
	t.Run("touch extends the idle expiry", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullSession(c, "s1", "u1", idle, absolute)
		mustOK(t, "CreateSession", s.CreateSession(ctx, want))
		c.Advance(idle - time.Minute)
		got, err := s.TouchSession(ctx, "s1", idle)
		mustOK(t, "TouchSession", err)
		want.LastSeenAt, want.ExpiresAt = c.Now(), c.Now().Add(idle)
		assertEqual(t, "touched session", want, got)
		c.Advance(idle - ms) // past the first idle expiry
		got, err = s.Session(ctx, "s1")
		mustOK(t, "Session just before the new ExpiresAt", err)
		assertEqual(t, "stored session", want, got)
		c.Advance(ms)
		_, err = s.Session(ctx, "s1")
		wantErr(t, "Session at the new ExpiresAt", err, storage.ErrNotFound)
	})
	t.Run("touch is capped at the absolute expiry", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullSession(c, "s1", "u1", idle, 15*time.Minute)
		mustOK(t, "CreateSession", s.CreateSession(ctx, want))
		c.Advance(9 * time.Minute)
		got, err := s.TouchSession(ctx, "s1", idle)
		mustOK(t, "TouchSession", err)
		want.LastSeenAt, want.ExpiresAt = c.Now(), want.AbsoluteExpiresAt
		assertEqual(t, "touched session", want, got)
		c.Advance(want.AbsoluteExpiresAt.Sub(c.Now()) - ms)
		_, err = s.TouchSession(ctx, "s1", idle)
		mustOK(t, "TouchSession just before AbsoluteExpiresAt", err)
		c.Advance(ms)
		_, err = s.Session(ctx, "s1")
		wantErr(t, "Session at AbsoluteExpiresAt", err, storage.ErrNotFound)
		_, err = s.TouchSession(ctx, "s1", idle)
		wantErr(t, "TouchSession at AbsoluteExpiresAt", err, storage.ErrNotFound)
	})
	t.Run("the absolute expiry holds even if the idle one is later", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateSession", s.CreateSession(ctx, fullSession(c, "s1", "u1", absolute, idle)))
		c.Advance(idle - ms)
		_, err := s.Session(ctx, "s1")
		mustOK(t, "Session just before AbsoluteExpiresAt", err)
		c.Advance(ms)
		_, err = s.Session(ctx, "s1")
		wantErr(t, "Session at AbsoluteExpiresAt", err, storage.ErrNotFound)
	})
	t.Run("idle expiry", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullSession(c, "s1", "u1", idle, absolute)
		mustOK(t, "CreateSession", s.CreateSession(ctx, want))
		c.Advance(idle - ms)
		_, err := s.Session(ctx, "s1")
		mustOK(t, "Session just before ExpiresAt", err)
		c.Advance(ms)
		_, err = s.Session(ctx, "s1")
		wantErr(t, "Session at ExpiresAt", err, storage.ErrNotFound)
		_, err = s.TouchSession(ctx, "s1", idle)
		wantErr(t, "TouchSession at ExpiresAt", err, storage.ErrNotFound)
		wantErr(t, "UpdateSession at ExpiresAt", s.UpdateSession(ctx, want), storage.ErrNotFound)
		_, err = s.DeleteSession(ctx, "s1")
		wantErr(t, "DeleteSession at ExpiresAt", err, storage.ErrNotFound)
		list, err := s.SessionsByUser(ctx, "u1")
		mustOK(t, "SessionsByUser", err)
		if len(list) != 0 {
			t.Errorf("SessionsByUser lists %d expired sessions", len(list))
		}
	})
	t.Run("update replaces", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullSession(c, "s1", "u1", idle, absolute)
		mustOK(t, "CreateSession", s.CreateSession(ctx, want))
		want.Clients = append(want.Clients, "client-3")
		want.Login.AMR = []string{"hwk"}
		want.ExpiresAt = c.Now().Add(2 * idle)
		mustOK(t, "UpdateSession", s.UpdateSession(ctx, want))
		c.Advance(idle)
		got, err := s.Session(ctx, "s1")
		mustOK(t, "Session", err)
		assertEqual(t, "updated session", want, got)
	})
	t.Run("delete returns what it removed", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := fullSession(c, "s1", "u1", idle, absolute)
		mustOK(t, "CreateSession", s.CreateSession(ctx, want))
		got, err := s.DeleteSession(ctx, "s1")
		mustOK(t, "DeleteSession", err)
		assertEqual(t, "deleted session", want, got)
		_, err = s.Session(ctx, "s1")
		wantErr(t, "Session after delete", err, storage.ErrNotFound)
		_, err = s.DeleteSession(ctx, "s1")
		wantErr(t, "DeleteSession twice", err, storage.ErrNotFound)
	})
	t.Run("missing session is not found", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		_, err := s.Session(ctx, "nothing")
		wantErr(t, "Session", err, storage.ErrNotFound)
		_, err = s.TouchSession(ctx, "nothing", idle)
		wantErr(t, "TouchSession", err, storage.ErrNotFound)
		wantErr(t, "UpdateSession", s.UpdateSession(ctx, fullSession(c, "nothing", "u1", idle, absolute)), storage.ErrNotFound)
		_, err = s.Session(ctx, "nothing")
		wantErr(t, "Session after refused update", err, storage.ErrNotFound)
	})
	t.Run("sessions by user", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		a, b := fullSession(c, "a", "u1", idle, absolute), fullSession(c, "b", "u1", idle, absolute)
		other := fullSession(c, "c", "u2", idle, absolute)
		for _, ss := range []storage.Session{b, other, a} {
			mustOK(t, "CreateSession", s.CreateSession(ctx, ss))
		}
		got, err := s.SessionsByUser(ctx, "u1")
		mustOK(t, "SessionsByUser", err)
		assertEqual(t, "SessionsByUser", []storage.Session{a, b}, sorted(got, sessionID))
		got, err = s.SessionsByUser(ctx, "nobody")
		mustOK(t, "SessionsByUser unknown", err)
		if len(got) != 0 {
			t.Errorf("SessionsByUser unknown: %d sessions", len(got))
		}
	})
}
