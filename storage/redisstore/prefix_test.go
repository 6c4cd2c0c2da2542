package redisstore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/redisstore"
	"github.com/foyerid/foyer/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

// exercise writes one record of every kind, with the same IDs whatever
// the store, and fails t if any write is refused.
func exercise(t *testing.T, s *redisstore.Store, now time.Time) {
	t.Helper()
	ctx := t.Context()
	login := storage.Login{UserID: "u1", SessionID: "s1"}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("CreateAuthRequest", s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "ar1", MaxAge: -1, ExpiresAt: now.Add(time.Minute)}))
	must("CreateAuthCode", s.CreateAuthCode(ctx, storage.AuthCode{ID: "code1", ExpiresAt: now.Add(time.Minute)}))
	_, err := s.RedeemAuthCode(ctx, "code1")
	must("RedeemAuthCode", err)
	must("CreateGrant", s.CreateGrant(ctx, storage.Grant{ID: "g1", ClientID: "c1", TokenHash: "rt-1", Login: login,
		ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour)}))
	_, _, err = s.RotateRefreshToken(ctx, storage.Rotation{TokenHash: "rt-1", ClientID: "c1", NewTokenHash: "rt-2", IdleTTL: time.Hour})
	must("RotateRefreshToken", err)
	must("CreateSession", s.CreateSession(ctx, storage.Session{ID: "s1", UserID: "u1", Login: login,
		ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour)}))
	must("CreateDeviceRequest", s.CreateDeviceRequest(ctx, storage.DeviceRequest{ID: "dc1", UserCode: "AAAA-BBBB",
		Status: storage.DevicePending, ExpiresAt: now.Add(time.Minute)}))
	must("Remember", s.Remember(ctx, "assertion-1", now.Add(time.Minute)))
	n, err := s.Hit(ctx, "login:alice", time.Minute)
	must("Hit", err)
	if n != 1 {
		t.Errorf("Hit = %d, want 1: another store's counter leaked in", n)
	}
	must("SwapKeySet", s.SwapKeySet(ctx, 0, storage.KeySet{Keys: []storage.SigningKey{{ID: "k1"}}}))
	held, err := s.AcquireLease(ctx, "rotate", "me", time.Minute)
	must("AcquireLease", err)
	if !held {
		t.Errorf("AcquireLease: held by another store's holder")
	}
}

// TestKeyPrefixIsolation runs two stores with different prefixes on one
// server of the test's own: each writes the same IDs without meeting the
// other, and every key on the server starts with one of the prefixes.
func TestKeyPrefixIsolation(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	now := time.Now().Truncate(time.Millisecond)
	clock := redisstore.WithClock(func() time.Time { return now })
	prefixes := []string{"foyer-a:", "foyer-b:"}
	a := open(t, redisstore.Config{Addrs: []string{srv.Addr}, KeyPrefix: prefixes[0]}, clock)
	b := open(t, redisstore.Config{Addrs: []string{srv.Addr}, KeyPrefix: prefixes[1]}, clock)
	ctx := t.Context()

	exercise(t, a, now)
	if _, err := b.Grant(ctx, "g1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("b.Grant of a's grant: %v; want ErrNotFound", err)
	}
	if _, err := b.GrantByRefreshToken(ctx, "rt-2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("b.GrantByRefreshToken of a's token: %v; want ErrNotFound", err)
	}
	if _, err := b.KeySet(ctx); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("b.KeySet with only a's stored: %v; want ErrNotFound", err)
	}
	if list, err := b.SessionsByUser(ctx, "u1"); err != nil || len(list) != 0 {
		t.Errorf("b.SessionsByUser = %d sessions, %v; want none", len(list), err)
	}
	exercise(t, b, now)

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, k := range keys {
		p, _, _ := strings.Cut(k, "{")
		if p != prefixes[0] && p != prefixes[1] {
			t.Errorf("key %q is outside both prefixes", k)
		}
		count[p]++
	}
	if count[prefixes[0]] == 0 || count[prefixes[0]] != count[prefixes[1]] {
		t.Errorf("keys per prefix: %v; want the same non-zero number for each", count)
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  redisstore.Config
	}{
		{"no address", redisstore.Config{}},
		{"brace in the prefix", redisstore.Config{Addrs: []string{"127.0.0.1:1"}, KeyPrefix: "foyer{x}:"}},
		{"database in a Cluster", redisstore.Config{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, DB: 1}},
		{"negative database", redisstore.Config{Addrs: []string{"127.0.0.1:1"}, DB: -1}},
		{"negative WaitReplicas", redisstore.Config{Addrs: []string{"127.0.0.1:1"}, WaitReplicas: -1}},
		{"negative WaitTimeout", redisstore.Config{Addrs: []string{"127.0.0.1:1"}, WaitTimeout: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redisstore.Open(t.Context(), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open accepted the config")
			}
			if errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("Open: %v; a bad config is not ErrUnavailable", err)
			}
		})
	}
}

func TestConfigHidesPassword(t *testing.T) {
	t.Parallel()
	cfg := redisstore.Config{Addrs: []string{"r:6379"}, Username: "foyer", Password: "hunter2-secret"}
	for _, got := range []string{cfg.String(), cfg.LogValue().String()} {
		if strings.Contains(got, "hunter2") || !strings.Contains(got, "[redacted]") {
			t.Errorf("Config shows %q", got)
		}
	}
}

// minimalACL is the ACL rule doc.go recommends, for a deployment whose
// KeyPrefix is foyer:.
var minimalACL = []string{"~foyer:*", "resetchannels", "-@all", "+@read", "+@write", "+@scripting",
	"+@connection", "+wait", "+config|get"}

// TestMinimalACL runs the conformance suite as a user that has only the
// permissions doc.go lists.
func TestMinimalACL(t *testing.T) {
	t.Parallel()
	args := append([]string{"--user", "foyer", "on", ">s3cret"}, minimalACL...)
	srv := testenv.StartRedis(t, append(args, "--user", "default", "off")...)
	var n atomic.Int64
	storagetest.RunState(t, func(t *testing.T, clock *storagetest.Clock) storage.State {
		cfg := redisstore.Config{Addrs: []string{srv.Addr}, Username: "foyer", Password: "s3cret",
			KeyPrefix: fmt.Sprintf("foyer:%d:", n.Add(1)), WaitReplicas: 1, WaitTimeout: time.Millisecond}
		return open(t, cfg, redisstore.WithClock(clock.Now))
	})
	s := open(t, redisstore.Config{Addrs: []string{srv.Addr}, Username: "foyer", Password: "s3cret", KeyPrefix: "foyer:"})
	if p, err := s.EvictionPolicy(t.Context()); err != nil || p != "noeviction" {
		t.Errorf("EvictionPolicy = %q, %v", p, err)
	}
}
