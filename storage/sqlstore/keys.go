package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/foyerid/foyer/storage"
)

// Remember stores key until expiresAt; ErrConflict if it is remembered and
// not expired. One upsert: an expired row is taken over, a live one is left
// alone and the statement changes nothing.
func (s *Store) Remember(ctx context.Context, key string, expiresAt time.Time) error {
	res, err := s.exec(ctx, `INSERT INTO replay (replay_key, expires_at) VALUES (?, ?)
		ON CONFLICT (replay_key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE replay.expires_at <= ?`, key, millis(expiresAt), s.nowMillis())
	if err != nil {
		return s.fail("remember", err)
	}
	n, err := affected(res)
	if err != nil {
		return s.fail("remember", err)
	}
	if n == 0 {
		return s.fail("remember", storage.ErrConflict)
	}
	return nil
}

// Hit counts one event for key in the fixed window of the given length
// that contains now, and returns the count. One row per (key, window
// length): a hit in a later window starts the count again.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration) (int64, error) {
	w := window.Milliseconds()
	if w <= 0 {
		return 0, s.fail("rate limit hit", fmt.Errorf("window %s is shorter than a millisecond", window))
	}
	now := s.nowMillis()
	start := now - ((now%w)+w)%w
	var n int64
	err := s.w.QueryRowContext(ctx, s.q(`INSERT INTO rate_limits (rate_key, window_ms, window_start, hits, expires_at)
		VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (rate_key, window_ms) DO UPDATE SET
			hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END,
			window_start = excluded.window_start,
			expires_at = excluded.expires_at
		RETURNING hits`), key, w, start, start+w).Scan(&n)
	if err != nil {
		return 0, s.fail("rate limit hit", err)
	}
	return n, nil
}

// KeySet returns the stored signing key set.
func (s *Store) KeySet(ctx context.Context) (storage.KeySet, error) {
	var (
		ks      storage.KeySet
		version int64
		data    []byte
	)
	err := s.queryRow(ctx, `SELECT version, data FROM key_set WHERE id = 1`).Scan(&version, &data)
	if err == nil {
		err = decode(data, &ks)
	}
	if err != nil {
		return storage.KeySet{}, s.fail("read key set", err)
	}
	ks.Version = version
	return ks, nil
}

// SwapKeySet stores next as version expect+1 if the stored version is
// expect (0: none stored); ErrConflict otherwise.
func (s *Store) SwapKeySet(ctx context.Context, expect int64, next storage.KeySet) error {
	if expect < 0 {
		return s.fail("swap key set", storage.ErrConflict)
	}
	next.Version = expect + 1
	data, err := encode(next)
	if err != nil {
		return s.fail("swap key set", err)
	}
	var res sql.Result
	if expect == 0 {
		res, err = s.exec(ctx, `INSERT INTO key_set (id, version, updated_at, data) VALUES (1, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, next.Version, millis(next.UpdatedAt), data)
	} else {
		res, err = s.exec(ctx, `UPDATE key_set SET version = ?, updated_at = ?, data = ?
			WHERE id = 1 AND version = ?`, next.Version, millis(next.UpdatedAt), data, expect)
	}
	if err != nil {
		return s.fail("swap key set", err)
	}
	n, err := affected(res)
	if err != nil {
		return s.fail("swap key set", err)
	}
	if n == 0 {
		return s.fail("swap key set", fmt.Errorf("version %d is not current: %w", expect, storage.ErrConflict))
	}
	return nil
}

// AcquireLease takes the lease for holder until now+ttl if it is free or
// expired, or renews it if holder has it. One upsert whose update only
// happens when allowed.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if holder == "" {
		return false, s.fail("acquire lease", errors.New("empty holder"))
	}
	now := s.now()
	res, err := s.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
		name, holder, millis(now.Add(ttl)), millis(now))
	if err != nil {
		return false, s.fail("acquire lease", err)
	}
	n, err := affected(res)
	if err != nil {
		return false, s.fail("acquire lease", err)
	}
	return n > 0, nil
}

// ReleaseLease frees the lease if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return s.fail("release lease", err)
}

// expiringTables are the tables Sweep clears, each with an expires_at
// column. Deleting a grant deletes its refresh tokens (ON DELETE CASCADE).
var expiringTables = []string{
	"auth_requests", "auth_codes", "grants", "sessions", "device_requests", "replay", "rate_limits", "leases",
}

// Sweep deletes the expired rows of every expiring table and returns how
// many it removed (refresh tokens going with their grants not counted).
// Each table is one statement, so the write lock is never held for more
// than one table's worth of work.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	now := s.nowMillis()
	total := 0
	for _, table := range expiringTables {
		res, err := s.exec(ctx, `DELETE FROM `+table+` WHERE expires_at <= ?`, now)
		if err != nil {
			return total, s.fail("sweep "+table, err)
		}
		n, err := affected(res)
		if err != nil {
			return total, s.fail("sweep "+table, err)
		}
		total += int(n)
	}
	if total > 0 {
		s.log.Debug("sqlstore: swept expired records", "count", total)
	}
	return total, nil
}
