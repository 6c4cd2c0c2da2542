package gateway

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/foyerid/foyer/storage"
)

// currentSession returns the browser's live SSO session, if any.
func (s *Server) currentSession(r *http.Request) (storage.Session, bool, error) {
	c, err := r.Cookie(sessionCookieName)
	if err != nil || len(c.Value) < 32 || len(c.Value) > 64 {
		return storage.Session{}, false, nil
	}
	sess, err := s.state.Session(r.Context(), storage.HashSecret(c.Value))
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false, nil
	}
	if err != nil {
		return storage.Session{}, false, err
	}
	return sess, true, nil
}

// startSession records a finished login in the browser's SSO session: the
// same user logging in again refreshes the session's login; anyone else
// gets a new session (and the old one ends).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, login storage.Login) (storage.Session, error) {
	ctx := r.Context()
	now := s.now().UTC()
	old, ok, err := s.currentSession(r)
	if err != nil {
		return storage.Session{}, err
	}
	if ok && old.UserID == login.UserID {
		login.SessionID = old.ID
		old.Login = login
		old.LastSeenAt = now
		old.ExpiresAt = minTime(now.Add(s.life.SessionIdle), old.AbsoluteExpiresAt)
		if err := s.state.UpdateSession(ctx, old); err == nil {
			return old, nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return storage.Session{}, err
		}
	}
	if ok {
		s.endSession(ctx, old)
	}
	secret := storage.NewSecret()
	sess := storage.Session{
		ID:                storage.HashSecret(secret),
		UserID:            login.UserID,
		CreatedAt:         now,
		LastSeenAt:        now,
		ExpiresAt:         now.Add(s.life.SessionIdle),
		AbsoluteExpiresAt: now.Add(s.life.SessionAbsolute),
	}
	login.SessionID = sess.ID
	sess.Login = login
	if err := s.state.CreateSession(ctx, sess); err != nil {
		return storage.Session{}, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookieName, Value: secret, Path: s.cookiePath,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	return sess, nil
}

// EndSession deletes a session and revokes the grants tied to it; clients
// that got tokens in it are told over the back channel. For callers
// outside the gateway (the admin API).
func (s *Server) EndSession(ctx context.Context, sess storage.Session) { s.endSession(ctx, sess) }

// endSession is EndSession.
func (s *Server) endSession(ctx context.Context, sess storage.Session) {
	deleted, err := s.state.DeleteSession(ctx, sess.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.logger.WarnContext(ctx, "end session", "user_id", sess.UserID, "err", err)
	}
	if _, err := s.state.RevokeSessionGrants(ctx, sess.ID); err != nil {
		s.logger.WarnContext(ctx, "revoke session grants", "user_id", sess.UserID, "err", err)
	}
	if err == nil {
		sess = deleted
	}
	s.backchannelLogout(context.WithoutCancel(ctx), sess)
}

// noteSessionClient records that a client got tokens in a session (for
// back-channel logout). Best effort: a failure is logged, not fatal.
func (s *Server) noteSessionClient(ctx context.Context, sessionID, clientID string) {
	if sessionID == "" {
		return
	}
	sess, err := s.state.Session(ctx, sessionID)
	if err != nil || slices.Contains(sess.Clients, clientID) {
		return
	}
	sess.Clients = append(sess.Clients, clientID)
	if err := s.state.UpdateSession(ctx, sess); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.logger.WarnContext(ctx, "note session client", "client_id", clientID, "err", err)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}
