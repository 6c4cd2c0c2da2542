package testenv

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisURLAndPrefix(t *testing.T) {
	t.Parallel()
	url := RedisURL(t)
	c := redisClient(t, url)
	ctx := t.Context()
	var prefix string
	t.Run("keys under the prefix go at cleanup", func(t *testing.T) {
		prefix = RedisPrefix(t, url)
		if !strings.HasPrefix(prefix, "foyertest:") || !strings.HasSuffix(prefix, ":") {
			t.Fatalf("RedisPrefix = %q", prefix)
		}
		if other := RedisPrefix(t, url); other == prefix {
			t.Fatalf("two calls gave the same prefix %q", prefix)
		}
		for _, k := range []string{"a", "{tag:b}", "c:d"} {
			if err := c.Set(ctx, prefix+k, "v", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("keys left after cleanup: %v", keys)
	}
}

func TestStartRedis(t *testing.T) {
	t.Parallel()
	s := StartRedis(t)
	c := redisClient(t, s.URL)
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on a started server: %v", err)
	}
	s.Stop(t)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err == nil {
		t.Fatal("PING answered after Stop")
	}
	s.Start(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Start: %v", err)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("after a restart EXISTS k = %d, %v; want an empty server", n, err)
	}
	if policy, err := c.ConfigGet(ctx, "save").Result(); err != nil || policy["save"] != "" {
		t.Errorf("CONFIG GET save = %v, %v; want persistence off", policy, err)
	}
	if !strings.Contains(s.Log(), "Ready to accept connections") {
		t.Errorf("Log lacks the start-up line:\n%s", s.Log())
	}
}

func TestStartRedisReplica(t *testing.T) {
	t.Parallel()
	primary := StartRedis(t, "--repl-diskless-sync-delay", "0")
	replica := StartRedis(t, "--replicaof", "127.0.0.1", primary.Port())
	replica.WaitForLog(t, "MASTER <-> REPLICA sync: Finished with success")
	c := redisClient(t, primary.URL)
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := c.Wait(ctx, 1, 10*time.Second).Result()
	if err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v; want the replica's acknowledgement", n, err)
	}
	v, err := redisClient(t, replica.URL).Get(ctx, "k").Result()
	if err != nil || v != "v" {
		t.Errorf("GET k on the replica = %q, %v", v, err)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"no credentials", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"password", "redis://:s3cret@host:6379/1", "redis://[redacted]@host:6379/1"},
		{"user and password", "rediss://u:p@host:6380", "rediss://[redacted]@host:6380"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := redactURL(tc.url); got != tc.want {
				t.Errorf("redactURL(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}

func TestStartRedisCluster(t *testing.T) {
	t.Parallel()
	c := StartRedisCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, MaxRetries: -1})
	defer rdb.Close()
	ctx := t.Context()
	info, err := rdb.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
		t.Fatalf("CLUSTER INFO = %q, %v", info, err)
	}
	// Keys spread over the nodes; each is readable through the client.
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := rdb.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	var used atomic.Int32
	err = rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		if size, err := n.DBSize(ctx).Result(); err == nil && size > 0 {
			used.Add(1)
		}
		return nil
	})
	if err != nil || used.Load() < 2 {
		t.Errorf("keys landed on %d masters (%v); want them spread", used.Load(), err)
	}
}
