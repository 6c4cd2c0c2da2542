package sqlstore

import (
	"context"
	"errors"

	"github.com/foyerid/foyer/storage"
)

// Grants live in grants (the record as JSON, plus the columns lookups and
// expiry need); every refresh token a grant ever had is a row of
// refresh_tokens, so a rotated token is still recognised (and its reuse
// detected) until the grant expires.

// grantArgs are g's columns after the id: client_id, user_id, session_id,
// offline, revoked, expires_at, data.
func grantArgs(g storage.Grant) ([]any, error) {
	data, err := encode(g)
	if err != nil {
		return nil, err
	}
	return []any{g.ClientID, g.Login.UserID, g.Login.SessionID, g.Offline, g.Revoked,
		millis(expiry(g.ExpiresAt, g.AbsoluteExpiresAt)), data}, nil
}

// putGrant rewrites a stored grant.
func (t tx) putGrant(ctx context.Context, g storage.Grant) error {
	args, err := grantArgs(g)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `UPDATE grants SET client_id = ?, user_id = ?, session_id = ?, offline = ?,
		revoked = ?, expires_at = ?, data = ? WHERE id = ?`, append(args, g.ID)...)
	return err
}

// CreateGrant stores a grant and, if set, its refresh token. ErrConflict if
// the grant ID or the token hash exists.
func (s *Store) CreateGrant(ctx context.Context, g storage.Grant) error {
	args, err := grantArgs(g)
	if err != nil {
		return s.fail("create grant", err)
	}
	return s.write(ctx, "create grant", func(t tx) error {
		if err := t.dropExpired(ctx, "grants", g.ID); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO grants (id, client_id, user_id, session_id, offline, revoked,
			expires_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, append([]any{g.ID}, args...)...)
		if err != nil {
			return err
		}
		for _, h := range []string{g.TokenHash, g.PreviousHash} {
			if h == "" {
				continue
			}
			if err := t.addToken(ctx, h, g.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// addToken records tokenHash as a token of grant grantID. A hash held by
// an expired grant (not yet swept) is taken over; one held by a live grant
// is a unique violation.
func (t tx) addToken(ctx context.Context, tokenHash, grantID string) error {
	if _, err := t.exec(ctx, `DELETE FROM refresh_tokens WHERE token_hash = ?
		AND grant_id IN (SELECT id FROM grants WHERE expires_at <= ?)`, tokenHash, t.s.nowMillis()); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO refresh_tokens (token_hash, grant_id) VALUES (?, ?)`, tokenHash, grantID)
	return err
}

// Grant returns a live grant, revoked or not.
func (s *Store) Grant(ctx context.Context, id string) (storage.Grant, error) {
	var g storage.Grant
	if err := s.readLive(ctx, "grants", "id", id, &g); err != nil {
		return storage.Grant{}, s.fail("read grant", err)
	}
	return g, nil
}

// GrantByRefreshToken returns the live grant a refresh token, current or
// rotated, belongs to.
func (s *Store) GrantByRefreshToken(ctx context.Context, tokenHash string) (storage.Grant, error) {
	var (
		g    storage.Grant
		data []byte
	)
	err := s.queryRow(ctx, `SELECT g.data FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id
		WHERE t.token_hash = ? AND g.expires_at > ?`, tokenHash, s.nowMillis()).Scan(&data)
	if err == nil {
		err = decode(data, &g)
	}
	if err != nil {
		return storage.Grant{}, s.fail("read grant by refresh token", err)
	}
	return g, nil
}

// RotateRefreshToken rotates a refresh token in one transaction that holds
// the grant's row (SQLite: the database) from the read to the write, so of
// concurrent rotations of one token exactly one rotates; the others then
// see a previous token and meet the grace or the reuse rule.
//
// ErrRevoked and ErrReuse come with the (revoked) grant, so the caller can
// log it and end what it issued. An IdleTTL <= 0 leaves the idle expiry as
// it was.
func (s *Store) RotateRefreshToken(ctx context.Context, r storage.Rotation) (storage.Grant, []byte, error) {
	var (
		g         storage.Grant
		successor []byte
		outcome   error
	)
	err := s.write(ctx, "rotate refresh token", func(t tx) error {
		var grantID string
		err := t.queryRow(ctx, `SELECT grant_id FROM refresh_tokens WHERE token_hash = ?`, r.TokenHash).Scan(&grantID)
		if err != nil {
			return err
		}
		if err := t.readLive(ctx, "grants", grantID, &g); err != nil {
			return err
		}
		if g.ClientID != r.ClientID {
			return storage.ErrNotFound
		}
		now := s.now()
		switch {
		case g.Revoked:
			outcome = storage.ErrRevoked
			return nil
		case r.TokenHash == g.TokenHash:
			if r.NewTokenHash == "" {
				return errors.New("empty successor hash")
			}
			if err := t.addToken(ctx, r.NewTokenHash, g.ID); err != nil {
				return err
			}
			g.PreviousHash, g.TokenHash = g.TokenHash, r.NewTokenHash
			g.RotatedAt = now
			g.SuccessorSealed = r.SuccessorSealed
			if r.IdleTTL > 0 {
				g.ExpiresAt = expiry(now.Add(r.IdleTTL), g.AbsoluteExpiresAt)
			}
			if r.Claims != nil {
				g.Login.Claims = *r.Claims
			}
			if r.ConnectorData != nil {
				g.Login.ConnectorData = r.ConnectorData
			}
			return t.putGrant(ctx, g)
		case r.TokenHash == g.PreviousHash && now.Sub(g.RotatedAt) < r.Grace:
			successor = g.SuccessorSealed
			return nil
		default:
			g.Revoked, g.RevokedAt = true, now
			outcome = storage.ErrReuse
			return t.putGrant(ctx, g)
		}
	})
	if err != nil {
		return storage.Grant{}, nil, err
	}
	if outcome != nil {
		return g, nil, s.fail("rotate refresh token", outcome)
	}
	return g, successor, nil
}

// RevokeGrant revokes a live grant; revoking twice is not an error.
func (s *Store) RevokeGrant(ctx context.Context, id string) error {
	return s.write(ctx, "revoke grant", func(t tx) error {
		var g storage.Grant
		if err := t.readLive(ctx, "grants", id, &g); err != nil {
			return err
		}
		if g.Revoked {
			return nil
		}
		g.Revoked, g.RevokedAt = true, s.now()
		return t.putGrant(ctx, g)
	})
}

// RevokeSessionGrants revokes the live, non-offline, not yet revoked grants
// of an SSO session and returns how many it revoked.
func (s *Store) RevokeSessionGrants(ctx context.Context, sessionID string) (int, error) {
	if sessionID == "" {
		return 0, nil // grants outside any session are not one session's
	}
	n := 0
	err := s.write(ctx, "revoke session grants", func(t tx) error {
		gs, err := listTx(ctx, t, scanData[storage.Grant], `SELECT data FROM grants WHERE session_id = ?
			AND offline = ? AND revoked = ? AND expires_at > ? ORDER BY id`+t.forUpdate(), sessionID, false, false, s.nowMillis())
		if err != nil {
			return err
		}
		now := s.now()
		for _, g := range gs {
			g.Revoked, g.RevokedAt = true, now
			if err := t.putGrant(ctx, g); err != nil {
				return err
			}
		}
		n = len(gs)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// GrantsByUser lists a user's live grants, revoked ones included.
func (s *Store) GrantsByUser(ctx context.Context, userID string) ([]storage.Grant, error) {
	gs, err := listRows(ctx, s, scanData[storage.Grant], `SELECT data FROM grants WHERE user_id = ?
		AND expires_at > ? ORDER BY id`, userID, s.nowMillis())
	return gs, s.fail("list grants", err)
}

// scanData scans a data column into a record.
func scanData[T any](sc scanner) (T, error) {
	var (
		v    T
		data []byte
	)
	if err := sc.Scan(&data); err != nil {
		return v, err
	}
	err := decode(data, &v)
	return v, err
}
