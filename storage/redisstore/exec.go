package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/foyerid/foyer/storage"
	"github.com/redis/go-redis/v9"
)

// eval runs a script by EVALSHA (EVAL when Redis does not have it cached).
// A nil reply (Lua false) comes back as (nil, nil).
func eval(ctx context.Context, c redis.Scripter, sc *redis.Script, keys []string, args ...any) (any, error) {
	v, err := sc.Run(ctx, c, keys, args...).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
}

// waiter runs scripts that change security state and, when WaitReplicas
// is set, WAITs for the replicas afterwards. WAIT counts only the writes
// made on the connection it is sent on, so the waiter runs each script on
// a connection of its own to the key's master, remembers which of those
// wrote, and WAITs once on each in done.
type waiter struct {
	s     *Store
	conns map[*redis.Client]*redis.Conn
	wrote map[*redis.Conn]bool
}

func (s *Store) waiter() *waiter {
	return &waiter{s: s}
}

// eval runs sc on the master of keys[0]; if wrote(reply) is true, done will
// WAIT for the write.
func (w *waiter) eval(ctx context.Context, sc *redis.Script, keys []string, wrote func(any) bool, args ...any) (any, error) {
	if w.s.waitReplicas <= 0 {
		return eval(ctx, w.s.rdb, sc, keys, args...)
	}
	node, err := w.s.master(ctx, keys[0])
	if err != nil {
		return nil, err
	}
	if w.conns == nil {
		w.conns, w.wrote = map[*redis.Client]*redis.Conn{}, map[*redis.Conn]bool{}
	}
	conn := w.conns[node]
	if conn == nil {
		conn = node.Conn()
		w.conns[node] = conn
	}
	v, err := eval(ctx, conn, sc, keys, args...)
	if err == nil && wrote(v) {
		w.wrote[conn] = true
	}
	return v, err
}

// done WAITs on every connection that wrote, logs a warning when fewer
// replicas than asked acknowledged in time, and returns the connections.
func (w *waiter) done(ctx context.Context, op string) {
	for _, conn := range w.conns {
		if w.wrote[conn] {
			n, err := conn.Wait(ctx, w.s.waitReplicas, w.s.waitTimeout).Result()
			switch {
			case err != nil:
				w.s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: WAIT for replicas failed",
					slog.String("op", op), slog.Any("err", err))
			case n < int64(w.s.waitReplicas):
				w.s.log.LogAttrs(ctx, slog.LevelWarn, "redisstore: fewer replicas than asked acknowledged a write",
					slog.String("op", op), slog.Int64("acked", n), slog.Int("want", w.s.waitReplicas),
					slog.Duration("timeout", w.s.waitTimeout))
			}
		}
		_ = conn.Close()
	}
	w.conns, w.wrote = nil, nil
}

// master returns the client of the master that holds key.
func (s *Store) master(ctx context.Context, key string) (*redis.Client, error) {
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *redis.Client:
		return c, nil
	default:
		return nil, fmt.Errorf("unexpected client %T", s.rdb)
	}
}

// wroteIf returns a reply test for waiter.eval: the script wrote when its
// reply (or the first element of a table reply) is want.
func wroteIf(want any) func(any) bool {
	return func(v any) bool {
		if t, ok := v.([]any); ok && len(t) > 0 {
			v = t[0]
		}
		return v == want
	}
}

// fetch reads a record; ok is false if it is missing, unreadable or
// expired at now.
func (s *Store) fetch(ctx context.Context, key string, now time.Time) (rec record, ok bool, err error) {
	v, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	rec, ok = parseRecord(v)
	return rec, ok && rec.live(now), nil
}

// fetchAll reads the JSON of several records, wherever they live, in one
// round trip per node; "" stands for a record gone or expired at now.
func (s *Store) fetchAll(ctx context.Context, keys []string, now time.Time) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	_, _ = pipe.Exec(ctx) // each command's error is checked below
	docs := make([]string, len(keys))
	for i, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		if rec, ok := parseRecord(c.Val()); ok && rec.live(now) {
			docs[i] = rec.doc
		}
	}
	return docs, nil
}

// decode unmarshals a record's JSON.
func decode[T any](op, doc string) (T, error) {
	var v T
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return v, fmt.Errorf("redisstore: %s: decode record: %w", op, err)
	}
	return v, nil
}

// reply splits a script's table reply into its tag and its record JSON.
func reply(v any) (tag any, doc string) {
	t, ok := v.([]any)
	if !ok || len(t) == 0 {
		return nil, ""
	}
	if len(t) > 1 {
		doc, _ = t[1].(string)
	}
	return t[0], doc
}

// claim points a unique key (a refresh token hash, a device user code) at
// owner, in the owner's absence from the key's slot: a key is free when it
// is missing or when held(current) says its holder no longer has it (gone,
// expired, or never finished). It reports whether it changed the key, so a
// rollback knows to release it, and returns storage.ErrConflict if a live
// holder other than owner has it.
func (s *Store) claim(ctx context.Context, key, owner string, ttlMs int64, held func(ctx context.Context, cur string) (bool, error)) (bool, error) {
	for range 8 {
		ok, err := s.rdb.SetNX(ctx, key, owner, time.Duration(ttlMs)*time.Millisecond).Result()
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
		cur, err := s.rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return false, err
		}
		if cur != owner {
			h, err := held(ctx, cur)
			if err != nil {
				return false, err
			}
			if h {
				return false, storage.ErrConflict
			}
		}
		// Take it over (or, already ours, renew its lifetime) if it has
		// not moved meanwhile.
		v, err := eval(ctx, s.rdb, claimScript, []string{key}, cur, owner, ttlMs)
		if err != nil {
			return false, err
		}
		if v == int64(1) {
			return cur != owner, nil
		}
	}
	return false, fmt.Errorf("claim contended: %w", storage.ErrConflict)
}

// release undoes claims: it deletes each key that still points at owner.
// It runs after the caller's context may have ended, so it has its own.
func (s *Store) release(ctx context.Context, owner string, keys ...string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, k := range keys {
		_, _ = eval(ctx, s.rdb, releaseScript, []string{k}, owner)
	}
}

// index adds member to the index set key, which then lives at least
// ttlMs more.
func (s *Store) index(ctx context.Context, key, member string, ttlMs int64) error {
	_, err := eval(ctx, s.rdb, indexScript, []string{key}, member, ttlMs)
	return err
}

// prune removes members whose records are gone from an index set; it is
// best effort, since a later read prunes again.
func (s *Store) prune(ctx context.Context, key string, gone []any) {
	if len(gone) > 0 {
		_ = s.rdb.SRem(ctx, key, gone...).Err()
	}
}
