package redisstore_test

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/redisstore"
	"github.com/foyerid/foyer/storage/storagetest"
)

// TestCluster runs the conformance suite against a Redis Cluster of the
// test's own, so that a script touching keys of two slots fails there
// (CROSSSLOT) as it would in production.
func TestCluster(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t)
	var n atomic.Int64
	prefix := func() string { return fmt.Sprintf("foyer-%d:", n.Add(1)) }
	t.Run("Conformance", func(t *testing.T) {
		storagetest.RunState(t, func(t *testing.T, clock *storagetest.Clock) storage.State {
			cfg := redisstore.Config{Addrs: cluster.Addrs, KeyPrefix: prefix()}
			return open(t, cfg, redisstore.WithClock(clock.Now))
		})
	})
	t.Run("WAIT on the key's master", func(t *testing.T) {
		now := time.Now().Truncate(time.Millisecond)
		var logs logBuffer
		cfg := redisstore.Config{Addrs: cluster.Addrs, KeyPrefix: prefix(), WaitReplicas: 1, WaitTimeout: 10 * time.Millisecond}
		s := open(t, cfg, redisstore.WithClock(func() time.Time { return now }),
			redisstore.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
		securityWrites(t, s, now)
		if got := logs.warnings(); got != 4 {
			t.Errorf("%d warnings from a Cluster without replicas, want 4:\n%s", got, logs.String())
		}
	})
	t.Run("EvictionPolicy", func(t *testing.T) {
		s := open(t, redisstore.Config{Addrs: cluster.Addrs})
		if got, err := s.EvictionPolicy(t.Context()); err != nil || got != "noeviction" {
			t.Errorf("EvictionPolicy = %q, %v; want noeviction", got, err)
		}
	})
}
