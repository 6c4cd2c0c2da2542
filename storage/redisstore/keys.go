package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/foyerid/foyer/storage"
)

// keySetKey holds the signing key set: v (its version) and r (its JSON).
func (s *Store) keySetKey() string { return s.prefix + "{keyset}" }

// KeySet returns the stored key set; ErrNotFound if none was stored.
func (s *Store) KeySet(ctx context.Context) (storage.KeySet, error) {
	const op = "key set"
	vals, err := s.rdb.HMGet(ctx, s.keySetKey(), "v", "r").Result()
	if err != nil {
		return storage.KeySet{}, fail(op, err)
	}
	vs, ok1 := vals[0].(string)
	doc, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return storage.KeySet{}, fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	}
	ks, err := decode[storage.KeySet](op, doc)
	if err != nil {
		return storage.KeySet{}, err
	}
	if ks.Version, err = strconv.ParseInt(vs, 10, 64); err != nil {
		return storage.KeySet{}, fmt.Errorf("redisstore: %s: version: %w", op, err)
	}
	return ks, nil
}

// SwapKeySet stores next as version expect+1 if the stored version is
// expect (0: nothing stored). ErrConflict otherwise.
func (s *Store) SwapKeySet(ctx context.Context, expect int64, next storage.KeySet) error {
	const op = "swap key set"
	next.Version = expect + 1
	doc, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	v, err := eval(ctx, s.rdb, swapKeySetScript, []string{s.keySetKey()}, expect, next.Version, doc)
	if err != nil {
		return fail(op, err)
	}
	if v != int64(-1) {
		return fmt.Errorf("redisstore: %s: version %v, expected %d: %w", op, v, expect, storage.ErrConflict)
	}
	return nil
}

func (s *Store) leaseKey(name string) string { return s.key("lease", name) }

// AcquireLease takes or renews the lease for holder until now+ttl; false
// if another holder has it.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, d time.Duration) (bool, error) {
	const op = "acquire lease"
	now := s.now()
	until := now.Add(d)
	v, err := eval(ctx, s.rdb, acquireLeaseScript, []string{s.leaseKey(name)},
		ms(now), holder, ms(until), ttl(until, now))
	if err != nil {
		return false, fail(op, err)
	}
	return v == int64(1), nil
}

// ReleaseLease frees the lease if holder has it; otherwise it does
// nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := eval(ctx, s.rdb, releaseLeaseScript, []string{s.leaseKey(name)}, holder); err != nil {
		return fail("release lease", err)
	}
	return nil
}
