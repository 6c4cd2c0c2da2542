package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyerid/foyer/storage"
)

func (s *Store) sessionKey(id string) string          { return s.key("session", id) }
func (s *Store) userSessionsKey(userID string) string { return s.key("user", userID) + ":sessions" }

// sessionRecord is a session as stored.
func sessionRecord(ss storage.Session, doc []byte) string {
	exp := effective(ss.ExpiresAt, ss.AbsoluteExpiresAt)
	return record{x: ms(exp), a: msOrZero(ss.AbsoluteExpiresAt), doc: string(doc)}.encode()
}

// indexSession adds a session to its user's index for as long as the
// session may live.
func (s *Store) indexSession(ctx context.Context, ss storage.Session, now time.Time) error {
	if ss.UserID == "" {
		return nil
	}
	life := later(effective(ss.ExpiresAt, ss.AbsoluteExpiresAt), ss.AbsoluteExpiresAt)
	return s.index(ctx, s.userSessionsKey(ss.UserID), ss.ID, ttl(life, now))
}

// CreateSession stores a new session. ErrConflict if a live one has the
// ID.
func (s *Store) CreateSession(ctx context.Context, ss storage.Session) error {
	return s.writeSession(ctx, "create session", createScript, storage.ErrConflict, ss)
}

// writeSession stores ss with script (create or replace), answering
// refused when the script refuses, and indexes it by user.
func (s *Store) writeSession(ctx context.Context, op string, script *redis.Script, refused error, ss storage.Session) error {
	now := s.now()
	doc, err := json.Marshal(ss)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	exp := effective(ss.ExpiresAt, ss.AbsoluteExpiresAt)
	v, err := eval(ctx, s.rdb, script, []string{s.sessionKey(ss.ID)}, ms(now), ttl(exp, now), sessionRecord(ss, doc))
	if err != nil {
		return fail(op, err)
	}
	if v != int64(1) {
		return fmt.Errorf("redisstore: %s: %w", op, refused)
	}
	// The user may have changed, or the session may now live longer.
	if err := s.indexSession(ctx, ss, now); err != nil {
		return fail(op+": index", err)
	}
	return nil
}

// Session returns a live session.
func (s *Store) Session(ctx context.Context, id string) (storage.Session, error) {
	const op = "session"
	return read[storage.Session](ctx, s, op, s.sessionKey(id))
}

// TouchSession sets LastSeenAt to now and ExpiresAt to
// min(now+idle, AbsoluteExpiresAt), and returns the updated session.
func (s *Store) TouchSession(ctx context.Context, id string, idle time.Duration) (storage.Session, error) {
	const op = "touch session"
	now := s.now()
	idleExp := now.Add(idle)
	v, err := eval(ctx, s.rdb, touchScript, []string{s.sessionKey(id)},
		ms(now), jsonTime(now), ms(idleExp), jsonTime(idleExp), slack.Milliseconds())
	if err != nil {
		return storage.Session{}, fail(op, err)
	}
	doc, ok := v.(string)
	if !ok {
		return storage.Session{}, fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	}
	return decode[storage.Session](op, doc)
}

// UpdateSession replaces a live session.
func (s *Store) UpdateSession(ctx context.Context, ss storage.Session) error {
	return s.writeSession(ctx, "update session", replaceScript, storage.ErrNotFound, ss)
}

// DeleteSession removes a live session and returns what it was.
func (s *Store) DeleteSession(ctx context.Context, id string) (storage.Session, error) {
	const op = "delete session"
	v, err := eval(ctx, s.rdb, takeScript, []string{s.sessionKey(id)}, ms(s.now()))
	if err != nil {
		return storage.Session{}, fail(op, err)
	}
	doc, ok := v.(string)
	if !ok {
		return storage.Session{}, fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	}
	return decode[storage.Session](op, doc)
}

// SessionsByUser lists a user's live sessions ordered by ID. An empty user
// ID names no user.
func (s *Store) SessionsByUser(ctx context.Context, userID string) ([]storage.Session, error) {
	const op = "sessions by user"
	if userID == "" {
		return nil, nil
	}
	ik := s.userSessionsKey(userID)
	ids, err := s.rdb.SMembers(ctx, ik).Result()
	if err != nil {
		return nil, fail(op, err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.sessionKey(id)
	}
	docs, err := s.fetchAll(ctx, keys, s.now())
	if err != nil {
		return nil, fail(op, err)
	}
	var out []storage.Session
	var gone []any
	for i, doc := range docs {
		if doc == "" {
			gone = append(gone, ids[i])
			continue
		}
		ss, err := decode[storage.Session](op, doc)
		if err != nil {
			return nil, err
		}
		if ss.UserID == userID {
			out = append(out, ss)
		} else {
			gone = append(gone, ids[i])
		}
	}
	s.prune(ctx, ik, gone)
	slices.SortFunc(out, func(a, b storage.Session) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
