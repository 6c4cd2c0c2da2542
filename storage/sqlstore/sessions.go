package sqlstore

import (
	"context"
	"time"

	"github.com/foyerid/foyer/storage"
)

// sessionExpiry is the expires_at column of a session.
func sessionExpiry(se storage.Session) int64 {
	return millis(expiry(se.ExpiresAt, se.AbsoluteExpiresAt))
}

// CreateSession stores a new SSO session; ErrConflict if the ID exists.
func (s *Store) CreateSession(ctx context.Context, se storage.Session) error {
	data, err := encode(se)
	if err != nil {
		return s.fail("create session", err)
	}
	return s.write(ctx, "create session", func(t tx) error {
		if err := t.dropExpired(ctx, "sessions", se.ID); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO sessions (id, user_id, expires_at, data) VALUES (?, ?, ?, ?)`,
			se.ID, se.UserID, sessionExpiry(se), data)
		return err
	})
}

// Session returns a live SSO session.
func (s *Store) Session(ctx context.Context, id string) (storage.Session, error) {
	var se storage.Session
	if err := s.readLive(ctx, "sessions", "id", id, &se); err != nil {
		return storage.Session{}, s.fail("read session", err)
	}
	return se, nil
}

// TouchSession records activity on a live session: LastSeenAt becomes now
// and ExpiresAt min(now+idle, AbsoluteExpiresAt). An idle <= 0 leaves
// ExpiresAt as it was.
func (s *Store) TouchSession(ctx context.Context, id string, idle time.Duration) (storage.Session, error) {
	var se storage.Session
	err := s.write(ctx, "touch session", func(t tx) error {
		if err := t.readLive(ctx, "sessions", id, &se); err != nil {
			return err
		}
		now := s.now()
		se.LastSeenAt = now
		if idle > 0 {
			se.ExpiresAt = expiry(now.Add(idle), se.AbsoluteExpiresAt)
		}
		data, err := encode(se)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `UPDATE sessions SET expires_at = ?, data = ? WHERE id = ?`, sessionExpiry(se), data, id)
		return err
	})
	if err != nil {
		return storage.Session{}, err
	}
	return se, nil
}

// UpdateSession replaces a live session.
func (s *Store) UpdateSession(ctx context.Context, se storage.Session) error {
	data, err := encode(se)
	if err != nil {
		return s.fail("update session", err)
	}
	return s.write(ctx, "update session", func(t tx) error {
		return deleteOne(ctx, t, `UPDATE sessions SET user_id = ?, expires_at = ?, data = ?
			WHERE id = ? AND expires_at > ?`, se.UserID, sessionExpiry(se), data, se.ID, s.nowMillis())
	})
}

// DeleteSession removes a session and returns it; ErrNotFound if there was
// no live one (an expired row is removed all the same).
func (s *Store) DeleteSession(ctx context.Context, id string) (storage.Session, error) {
	var (
		se   storage.Session
		gone bool
	)
	err := s.write(ctx, "delete session", func(t tx) error {
		var (
			data      []byte
			expiresAt int64
		)
		err := t.queryRow(ctx, `DELETE FROM sessions WHERE id = ? RETURNING expires_at, data`, id).Scan(&expiresAt, &data)
		if err != nil {
			return err
		}
		if expiresAt <= s.nowMillis() {
			gone = true // committed all the same: the row was dead
			return nil
		}
		return decode(data, &se)
	})
	if err != nil {
		return storage.Session{}, err
	}
	if gone {
		return storage.Session{}, s.fail("delete session", storage.ErrNotFound)
	}
	return se, nil
}

// SessionsByUser lists a user's live sessions.
func (s *Store) SessionsByUser(ctx context.Context, userID string) ([]storage.Session, error) {
	ss, err := listRows(ctx, s, scanData[storage.Session], `SELECT data FROM sessions WHERE user_id = ?
		AND expires_at > ? ORDER BY id`, userID, s.nowMillis())
	return ss, s.fail("list sessions", err)
}
