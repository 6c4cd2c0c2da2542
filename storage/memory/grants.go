package memory

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/foyerid/foyer/storage"
)

// liveGrant returns a live grant (revoked or not), dropping it if it expired.
func (s *Store) liveGrant(id string, now time.Time) (storage.Grant, bool) {
	g, ok := s.grants[id]
	if ok && expiredIdle(g.ExpiresAt, g.AbsoluteExpiresAt, now) {
		s.dropGrant(id)
		return storage.Grant{}, false
	}
	return g, ok
}

// dropGrant deletes a grant and every token hash it issued.
func (s *Store) dropGrant(id string) {
	for _, h := range s.grantTokens[id] {
		if s.refresh[h] == id {
			delete(s.refresh, h)
		}
	}
	delete(s.grantTokens, id)
	delete(s.grants, id)
}

// tokenTaken reports whether a live grant holds the token hash h.
func (s *Store) tokenTaken(h string, now time.Time) bool {
	id, ok := s.refresh[h]
	if !ok {
		return false
	}
	_, live := s.liveGrant(id, now)
	return live
}

// addToken records h as a token of grant id.
func (s *Store) addToken(id, h string) {
	s.refresh[h] = id
	s.grantTokens[id] = append(s.grantTokens[id], h)
}

// CreateGrant stores g; its TokenHash (and PreviousHash, if set) belong to it
// from now on. ErrConflict if the grant ID or a token hash exists.
func (s *Store) CreateGrant(_ context.Context, g storage.Grant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if _, ok := s.liveGrant(g.ID, now); ok {
		return fmt.Errorf("memory: create grant %q: %w", g.ID, storage.ErrConflict)
	}
	for _, h := range []string{g.TokenHash, g.PreviousHash} {
		if h != "" && s.tokenTaken(h, now) {
			return fmt.Errorf("memory: create grant %q: token hash: %w", g.ID, storage.ErrConflict)
		}
	}
	s.grants[g.ID] = copyGrant(g)
	for _, h := range []string{g.TokenHash, g.PreviousHash} {
		if h != "" {
			s.addToken(g.ID, h)
		}
	}
	return nil
}

// Grant returns a live grant, revoked or not.
func (s *Store) Grant(_ context.Context, id string) (storage.Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.liveGrant(id, s.now())
	if !ok {
		return storage.Grant{}, fmt.Errorf("memory: grant %q: %w", id, storage.ErrNotFound)
	}
	return copyGrant(g), nil
}

// GrantByRefreshToken returns the live grant any token it ever issued
// belongs to.
func (s *Store) GrantByRefreshToken(_ context.Context, tokenHash string) (storage.Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.refresh[tokenHash]
	var g storage.Grant
	if ok {
		g, ok = s.liveGrant(id, s.now())
	}
	if !ok {
		return storage.Grant{}, fmt.Errorf("memory: grant by refresh token: %w", storage.ErrNotFound)
	}
	return copyGrant(g), nil
}

// RotateRefreshToken rotates the presented token; see storage.Grants. Along
// with ErrRevoked and ErrReuse it returns the (revoked) grant.
func (s *Store) RotateRefreshToken(_ context.Context, r storage.Rotation) (storage.Grant, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	id, ok := s.refresh[r.TokenHash]
	var g storage.Grant
	if ok {
		g, ok = s.liveGrant(id, now)
	}
	if !ok || g.ClientID != r.ClientID {
		return storage.Grant{}, nil, fmt.Errorf("memory: rotate refresh token: %w", storage.ErrNotFound)
	}
	if g.Revoked {
		return copyGrant(g), nil, fmt.Errorf("memory: rotate refresh token: grant %q: %w", id, storage.ErrRevoked)
	}
	switch {
	case r.TokenHash == g.TokenHash:
		if r.NewTokenHash == "" {
			return storage.Grant{}, nil, errors.New("memory: rotate refresh token: empty successor hash")
		}
		if s.tokenTaken(r.NewTokenHash, now) {
			return storage.Grant{}, nil, fmt.Errorf("memory: rotate refresh token: successor hash: %w", storage.ErrConflict)
		}
		g.PreviousHash, g.TokenHash = g.TokenHash, r.NewTokenHash
		g.RotatedAt = now
		g.SuccessorSealed = bytes.Clone(r.SuccessorSealed)
		if r.IdleTTL > 0 {
			g.ExpiresAt = minTime(now.Add(r.IdleTTL), g.AbsoluteExpiresAt)
		}
		if r.Claims != nil {
			g.Login.Claims = copyClaims(*r.Claims)
		}
		if r.ConnectorData != nil {
			g.Login.ConnectorData = bytes.Clone(r.ConnectorData)
		}
		s.grants[id] = g
		s.addToken(id, r.NewTokenHash)
		return copyGrant(g), nil, nil
	case r.TokenHash == g.PreviousHash && now.Before(g.RotatedAt.Add(r.Grace)):
		return copyGrant(g), bytes.Clone(g.SuccessorSealed), nil
	default:
		g.Revoked, g.RevokedAt = true, now
		s.grants[id] = g
		return copyGrant(g), nil, fmt.Errorf("memory: rotate refresh token: grant %q: %w", id, storage.ErrReuse)
	}
}

// RevokeGrant revokes a live grant; revoking twice keeps the first RevokedAt.
func (s *Store) RevokeGrant(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	g, ok := s.liveGrant(id, now)
	if !ok {
		return fmt.Errorf("memory: revoke grant %q: %w", id, storage.ErrNotFound)
	}
	if !g.Revoked {
		g.Revoked, g.RevokedAt = true, now
		s.grants[id] = g
	}
	return nil
}

// RevokeSessionGrants revokes the live, unrevoked, non-offline grants of an
// SSO session and returns how many it revoked.
func (s *Store) RevokeSessionGrants(_ context.Context, sessionID string) (int, error) {
	if sessionID == "" {
		return 0, nil // grants without a session belong to no session
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	n := 0
	for id := range s.grants {
		g, ok := s.liveGrant(id, now)
		if !ok || g.Revoked || g.Offline || g.Login.SessionID != sessionID {
			continue
		}
		g.Revoked, g.RevokedAt = true, now
		s.grants[id] = g
		n++
	}
	return n, nil
}

// GrantsByUser lists a user's live grants, revoked ones included, ordered by
// ID.
func (s *Store) GrantsByUser(_ context.Context, userID string) ([]storage.Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []storage.Grant
	for id := range s.grants {
		g, ok := s.liveGrant(id, now)
		if ok && g.Login.UserID == userID {
			out = append(out, copyGrant(g))
		}
	}
	slices.SortFunc(out, func(a, b storage.Grant) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// liveSession returns a live session, dropping it if it expired.
func (s *Store) liveSession(id string, now time.Time) (storage.Session, bool) {
	ss, ok := s.sessions[id]
	if ok && expiredIdle(ss.ExpiresAt, ss.AbsoluteExpiresAt, now) {
		delete(s.sessions, id)
		return storage.Session{}, false
	}
	return ss, ok
}

// CreateSession stores a new session. ErrConflict if the ID exists.
func (s *Store) CreateSession(_ context.Context, ss storage.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.liveSession(ss.ID, s.now()); ok {
		return fmt.Errorf("memory: create session: %w", storage.ErrConflict)
	}
	s.sessions[ss.ID] = copySession(ss)
	return nil
}

// Session returns a live session.
func (s *Store) Session(_ context.Context, id string) (storage.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.liveSession(id, s.now())
	if !ok {
		return storage.Session{}, fmt.Errorf("memory: session: %w", storage.ErrNotFound)
	}
	return copySession(ss), nil
}

// TouchSession sets LastSeenAt to now and ExpiresAt to
// min(now+idle, AbsoluteExpiresAt), and returns the updated session.
func (s *Store) TouchSession(_ context.Context, id string, idle time.Duration) (storage.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ss, ok := s.liveSession(id, now)
	if !ok {
		return storage.Session{}, fmt.Errorf("memory: touch session: %w", storage.ErrNotFound)
	}
	ss.LastSeenAt = now
	if idle > 0 {
		ss.ExpiresAt = minTime(now.Add(idle), ss.AbsoluteExpiresAt)
	}
	s.sessions[id] = ss
	return copySession(ss), nil
}

// UpdateSession replaces a live session.
func (s *Store) UpdateSession(_ context.Context, ss storage.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.liveSession(ss.ID, s.now()); !ok {
		return fmt.Errorf("memory: update session: %w", storage.ErrNotFound)
	}
	s.sessions[ss.ID] = copySession(ss)
	return nil
}

// DeleteSession removes a live session and returns what it was.
func (s *Store) DeleteSession(_ context.Context, id string) (storage.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.liveSession(id, s.now())
	if !ok {
		return storage.Session{}, fmt.Errorf("memory: delete session: %w", storage.ErrNotFound)
	}
	delete(s.sessions, id)
	return copySession(ss), nil
}

// SessionsByUser lists a user's live sessions ordered by ID.
func (s *Store) SessionsByUser(_ context.Context, userID string) ([]storage.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []storage.Session
	for id := range s.sessions {
		ss, ok := s.liveSession(id, now)
		if ok && ss.UserID == userID {
			out = append(out, copySession(ss))
		}
	}
	slices.SortFunc(out, func(a, b storage.Session) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
