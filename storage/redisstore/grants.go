package redisstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foyerid/foyer/storage"
	"github.com/redis/go-redis/v9"
)

// grantKey is a grant's record; tokensKey, in the same slot, the set of
// every refresh token hash it ever held.
func (s *Store) grantKey(id string) string  { return s.key("grant", id) }
func (s *Store) tokensKey(id string) string { return s.key("grant", id) + ":tokens" }

// refreshKey points a refresh token hash at its grant: "absMs:grantID",
// where absMs is the grant's absolute expiry (0: none), which never
// changes, so that a rotation knows how long the successor's entry must
// live before it reads the grant.
func (s *Store) refreshKey(hash string) string { return s.key("rt", hash) }

func refreshRef(id string, absolute time.Time) string {
	return strconv.FormatInt(msOrZero(absolute), 10) + ":" + id
}

func parseRefreshRef(ref string) (id string, absMs int64) {
	n, id, ok := strings.Cut(ref, ":")
	if !ok {
		return ref, 0
	}
	absMs, _ = strconv.ParseInt(n, 10, 64)
	return id, absMs
}

func (s *Store) userGrantsKey(userID string) string { return s.key("user", userID) + ":grants" }
func (s *Store) sessionGrantsKey(sessionID string) string {
	return s.key("session", sessionID) + ":grants"
}

// tokenHeld says whether the grant named by a refresh-token entry still
// holds hash: live at now, with hash in its token set.
func (s *Store) tokenHeld(now time.Time, hash string) func(context.Context, string) (bool, error) {
	return func(ctx context.Context, ref string) (bool, error) {
		id, _ := parseRefreshRef(ref)
		_, ok, err := s.holds(ctx, id, hash, now)
		return ok, err
	}
}

// holds reads a grant and whether hash is in its token set, in one round
// trip; ok is false unless the grant is live at now and holds hash.
func (s *Store) holds(ctx context.Context, id, hash string, now time.Time) (rec record, ok bool, err error) {
	pipe := s.rdb.Pipeline()
	get := pipe.Get(ctx, s.grantKey(id))
	member := pipe.SIsMember(ctx, s.tokensKey(id), hash)
	_, _ = pipe.Exec(ctx) // each command's error is checked below
	if err := get.Err(); err != nil {
		if errors.Is(err, redis.Nil) {
			return record{}, false, nil
		}
		return record{}, false, err
	}
	if err := member.Err(); err != nil {
		return record{}, false, err
	}
	rec, ok = parseRecord(get.Val())
	return rec, ok && rec.live(now) && member.Val(), nil
}

// CreateGrant stores g; its TokenHash (and PreviousHash, if set) belong to
// it from now on. ErrConflict if a live grant has the ID or a token hash.
//
// The grant is written first, then its token hashes are claimed; if a hash
// is taken the grant is deleted again, so a refused grant may be visible by
// ID for that moment, but never by token.
func (s *Store) CreateGrant(ctx context.Context, g storage.Grant) error {
	const op = "create grant"
	now := s.now()
	doc, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	exp := effective(g.ExpiresAt, g.AbsoluteExpiresAt)
	var tokens []any
	for _, h := range []string{g.TokenHash, g.PreviousHash} {
		if h != "" && !slices.Contains(tokens, any(h)) {
			tokens = append(tokens, h)
		}
	}
	gk, tk := s.grantKey(g.ID), s.tokensKey(g.ID)
	rec := record{x: ms(exp), a: msOrZero(g.AbsoluteExpiresAt), n: msOrZero(g.RotatedAt), doc: string(doc)}
	args := append([]any{ms(now), ttl(exp, now), rec.encode()}, tokens...)
	v, err := eval(ctx, s.rdb, createScript, []string{gk, tk}, args...)
	if err != nil {
		return fail(op, err)
	}
	if v != int64(1) {
		return fmt.Errorf("redisstore: %s: %w", op, storage.ErrConflict)
	}
	life := ttl(later(exp, g.AbsoluteExpiresAt), now)
	ref := refreshRef(g.ID, g.AbsoluteExpiresAt)
	var claimed []string
	for _, h := range tokens {
		k := s.refreshKey(h.(string))
		changed, err := s.claim(ctx, k, ref, life, s.tokenHeld(now, h.(string)))
		if err != nil {
			s.release(ctx, ref, claimed...)
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = s.rdb.Del(ctx, gk, tk).Err()
			return fail(op+": token hash", err)
		}
		if changed {
			claimed = append(claimed, k)
		}
	}
	if err := s.indexGrant(ctx, g, now); err != nil {
		return fail(op+": index", err)
	}
	return nil
}

// indexGrant adds a grant to its user's and its session's index sets for
// as long as the grant may live.
func (s *Store) indexGrant(ctx context.Context, g storage.Grant, now time.Time) error {
	life := ttl(later(effective(g.ExpiresAt, g.AbsoluteExpiresAt), g.AbsoluteExpiresAt), now)
	if g.Login.UserID != "" {
		if err := s.index(ctx, s.userGrantsKey(g.Login.UserID), g.ID, life); err != nil {
			return err
		}
	}
	if g.Login.SessionID != "" {
		if err := s.index(ctx, s.sessionGrantsKey(g.Login.SessionID), g.ID, life); err != nil {
			return err
		}
	}
	return nil
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Grant returns a live grant, revoked or not.
func (s *Store) Grant(ctx context.Context, id string) (storage.Grant, error) {
	const op = "grant"
	return read[storage.Grant](ctx, s, op, s.grantKey(id))
}

// GrantByRefreshToken returns the live grant any token it ever held
// belongs to.
func (s *Store) GrantByRefreshToken(ctx context.Context, tokenHash string) (storage.Grant, error) {
	const op = "grant by refresh token"
	notFound := fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	if tokenHash == "" {
		return storage.Grant{}, notFound
	}
	now := s.now()
	ref, err := s.rdb.Get(ctx, s.refreshKey(tokenHash)).Result()
	if errors.Is(err, redis.Nil) {
		return storage.Grant{}, notFound
	}
	if err != nil {
		return storage.Grant{}, fail(op, err)
	}
	id, _ := parseRefreshRef(ref)
	rec, ok, err := s.holds(ctx, id, tokenHash, now)
	if err != nil {
		return storage.Grant{}, fail(op, err)
	}
	if !ok {
		return storage.Grant{}, notFound
	}
	return decode[storage.Grant](op, rec.doc)
}

// RotateRefreshToken rotates the presented token; see storage.Grants.
// Along with ErrRevoked and ErrReuse it returns the (revoked) grant.
//
// The successor's hash is claimed before the rotation script runs and
// released if the script says it did not rotate, so a rotated grant's
// successor is always found, even if the process dies or the reply is
// lost between the two.
func (s *Store) RotateRefreshToken(ctx context.Context, r storage.Rotation) (storage.Grant, []byte, error) {
	const op = "rotate refresh token"
	notFound := fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	if r.TokenHash == "" {
		return storage.Grant{}, nil, notFound
	}
	if r.NewTokenHash == "" {
		return storage.Grant{}, nil, fmt.Errorf("redisstore: %s: empty successor hash", op)
	}
	now := s.now()
	ref, err := s.rdb.Get(ctx, s.refreshKey(r.TokenHash)).Result()
	if errors.Is(err, redis.Nil) {
		return storage.Grant{}, nil, notFound
	}
	if err != nil {
		return storage.Grant{}, nil, fail(op, err)
	}
	id, absMs := parseRefreshRef(ref)
	idleExp := now.Add(r.IdleTTL)
	life := ttl(idleExp, now)
	if absMs != 0 {
		life = ttl(time.UnixMilli(absMs), now)
	}
	nk := s.refreshKey(r.NewTokenHash)
	claimed, err := s.claim(ctx, nk, ref, life, s.tokenHeld(now, r.NewTokenHash))
	if err != nil {
		return storage.Grant{}, nil, fail(op+": successor hash", err)
	}
	var claims string
	if r.Claims != nil {
		b, err := json.Marshal(*r.Claims)
		if err != nil {
			return storage.Grant{}, nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		claims = string(b)
	}
	replaceData := "0"
	if r.ConnectorData != nil {
		replaceData = "1"
	}
	w := s.waiter()
	v, err := w.eval(ctx, rotateScript, []string{s.grantKey(id), s.tokensKey(id)},
		func(v any) bool { t, _ := reply(v); return t == "rotated" || t == "reuse" },
		ms(now), jsonTime(now), r.TokenHash, r.ClientID, r.NewTokenHash,
		base64.StdEncoding.EncodeToString(r.SuccessorSealed), r.Grace.Milliseconds(),
		ms(idleExp), jsonTime(idleExp), claims, replaceData,
		base64.StdEncoding.EncodeToString(r.ConnectorData), slack.Milliseconds())
	w.done(ctx, op)
	if err != nil {
		// The script may have rotated before its reply was lost: keep the
		// claim, so that the successor a retry in grace receives is
		// found. If it did not rotate, the claim names a hash the grant
		// does not hold, which reads as unknown.
		return storage.Grant{}, nil, fail(op, err)
	}
	tag, doc := reply(v)
	if claimed && tag != "rotated" {
		s.release(ctx, ref, nk)
	}
	var g storage.Grant
	if doc != "" {
		if g, err = decode[storage.Grant](op, doc); err != nil {
			return storage.Grant{}, nil, err
		}
	}
	switch tag {
	case "rotated":
		if g.AbsoluteExpiresAt.IsZero() {
			// Without an absolute expiry the indexes were made to live
			// only as long as the grant's first idle term: extend them.
			// The rotation stands even if this fails; log it.
			if err := s.indexGrant(ctx, g, now); err != nil {
				s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: extend the indexes of a rotated grant",
					slog.String("op", op), slog.Any("err", err))
			}
		}
		return g, nil, nil
	case "grace":
		return g, bytes.Clone(g.SuccessorSealed), nil
	case "reuse":
		return g, nil, fmt.Errorf("redisstore: %s: grant %q: %w", op, id, storage.ErrReuse)
	case "revoked":
		return g, nil, fmt.Errorf("redisstore: %s: grant %q: %w", op, id, storage.ErrRevoked)
	case "conflict":
		return storage.Grant{}, nil, fmt.Errorf("redisstore: %s: successor hash: %w", op, storage.ErrConflict)
	case "notfound":
		return storage.Grant{}, nil, notFound
	default:
		return storage.Grant{}, nil, fmt.Errorf("redisstore: %s: unexpected reply %v", op, tag)
	}
}

// RevokeGrant revokes a live grant; revoking twice keeps the first
// RevokedAt.
func (s *Store) RevokeGrant(ctx context.Context, id string) error {
	const op = "revoke grant"
	now := s.now()
	w := s.waiter()
	v, err := w.eval(ctx, revokeScript, []string{s.grantKey(id)}, wroteIf(int64(1)), ms(now), jsonTime(now), "", "")
	w.done(ctx, op)
	if err != nil {
		return fail(op, err)
	}
	if v == int64(-1) {
		return fmt.Errorf("redisstore: %s %q: %w", op, id, storage.ErrNotFound)
	}
	return nil
}

// RevokeSessionGrants revokes the live, unrevoked, non-offline grants of an
// SSO session and returns how many it revoked. Each grant is revoked
// atomically; the set of grants is read first, so a grant created during
// the call may escape it. An empty session ID names no session.
func (s *Store) RevokeSessionGrants(ctx context.Context, sessionID string) (int, error) {
	const op = "revoke session grants"
	if sessionID == "" {
		return 0, nil
	}
	now := s.now()
	ik := s.sessionGrantsKey(sessionID)
	ids, err := s.rdb.SMembers(ctx, ik).Result()
	if err != nil {
		return 0, fail(op, err)
	}
	w := s.waiter()
	defer w.done(ctx, op)
	n := 0
	var gone []any
	for _, id := range ids {
		v, err := w.eval(ctx, revokeScript, []string{s.grantKey(id)}, wroteIf(int64(1)),
			ms(now), jsonTime(now), "1", sessionID)
		if err != nil {
			return n, fail(op, err)
		}
		switch v {
		case int64(1):
			n++
		case int64(-1):
			gone = append(gone, id)
		}
	}
	s.prune(ctx, ik, gone)
	return n, nil
}

// GrantsByUser lists a user's live grants, revoked ones included, ordered
// by ID. An empty user ID names no user.
func (s *Store) GrantsByUser(ctx context.Context, userID string) ([]storage.Grant, error) {
	const op = "grants by user"
	if userID == "" {
		return nil, nil
	}
	ik := s.userGrantsKey(userID)
	ids, err := s.rdb.SMembers(ctx, ik).Result()
	if err != nil {
		return nil, fail(op, err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.grantKey(id)
	}
	docs, err := s.fetchAll(ctx, keys, s.now())
	if err != nil {
		return nil, fail(op, err)
	}
	var out []storage.Grant
	var gone []any
	for i, doc := range docs {
		if doc == "" {
			gone = append(gone, ids[i])
			continue
		}
		g, err := decode[storage.Grant](op, doc)
		if err != nil {
			return nil, err
		}
		if g.Login.UserID == userID {
			out = append(out, g)
		}
	}
	s.prune(ctx, ik, gone)
	slices.SortFunc(out, func(a, b storage.Grant) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
