package redisstore_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// logBuffer is a concurrency-safe buffer for a JSON log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// warnings counts the log's warnings about replicas.
func (b *logBuffer) warnings() int {
	return strings.Count(b.String(), `"msg":"redisstore: fewer replicas than asked acknowledged a write"`)
}

// securityWrites runs on s each kind of write that must reach the
// replicas (four of them), and writes that need not.
func securityWrites(t *testing.T, s *redisstore.Store, now time.Time) {
	t.Helper()
	ctx := t.Context()
	g := storage.Grant{ID: "g1", ClientID: "c1", TokenHash: "rt-1", Login: storage.Login{UserID: "u1", SessionID: "s1"},
		ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour)}
	for _, err := range []error{
		s.CreateGrant(ctx, g),
		s.CreateAuthCode(ctx, storage.AuthCode{ID: "code1", ExpiresAt: now.Add(time.Minute)}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RedeemAuthCode(ctx, "code1"); err != nil {
		t.Fatalf("RedeemAuthCode: %v", err)
	}
	login := storage.Login{UserID: "u1"}
	d := storage.DeviceRequest{ID: "dc1", UserCode: "AAAA-BBBB", Status: storage.DeviceApproved, Login: &login, ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateDeviceRequest(ctx, d); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second poll finds it claimed and writes nothing
		if _, err := s.ClaimDeviceCode(ctx, "dc1"); err != nil && !errors.Is(err, storage.ErrAlreadyUsed) {
			t.Fatalf("ClaimDeviceCode: %v", err)
		}
	}
	rot := storage.Rotation{TokenHash: "rt-1", ClientID: "c1", NewTokenHash: "rt-2", IdleTTL: time.Hour, Grace: time.Minute}
	if _, _, err := s.RotateRefreshToken(ctx, rot); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	if _, _, err := s.RotateRefreshToken(ctx, rot); err != nil { // a retry in grace writes nothing
		t.Fatalf("RotateRefreshToken retry: %v", err)
	}
	if n, err := s.RevokeSessionGrants(ctx, "s1"); err != nil || n != 1 {
		t.Fatalf("RevokeSessionGrants = %d, %v", n, err)
	}
	if _, _, err := s.RotateRefreshToken(ctx, rot); !errors.Is(err, storage.ErrRevoked) {
		t.Fatalf("RotateRefreshToken after revocation: %v", err)
	}
}

func TestWaitWarnsWithoutReplicas(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	now := time.Now().Truncate(time.Millisecond)
	var logs logBuffer
	cfg := redisstore.Config{Addrs: []string{srv.Addr}, KeyPrefix: "foyer:", WaitReplicas: 1, WaitTimeout: 10 * time.Millisecond}
	s := open(t, cfg, redisstore.WithClock(func() time.Time { return now }),
		redisstore.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	securityWrites(t, s, now)
	// The redemption, the claim, the rotation and the revocation waited;
	// the creations, the second poll, the retry and the refused rotation
	// did not.
	if got := logs.warnings(); got != 4 {
		t.Errorf("%d warnings, want 4:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), `"acked":0`) || !strings.Contains(logs.String(), `"op":"rotate refresh token"`) {
		t.Errorf("warnings lack the counts or the operation:\n%s", logs.String())
	}
	for _, secret := range []string{"rt-1", "rt-2", "code1"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log names %q:\n%s", secret, logs.String())
		}
	}
}

func TestWaitReachesTheReplica(t *testing.T) {
	t.Parallel()
	primary := testenv.StartRedis(t, "--repl-diskless-sync-delay", "0")
	replica := testenv.StartRedis(t, "--replicaof", "127.0.0.1", primary.Port())
	replica.WaitForLog(t, "MASTER <-> REPLICA sync: Finished with success")
	now := time.Now().Truncate(time.Millisecond)
	var logs logBuffer
	cfg := redisstore.Config{Addrs: []string{primary.Addr}, KeyPrefix: "foyer:", WaitReplicas: 1, WaitTimeout: 10 * time.Second}
	s := open(t, cfg, redisstore.WithClock(func() time.Time { return now }),
		redisstore.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	securityWrites(t, s, now)
	if got := logs.warnings(); got != 0 {
		t.Errorf("%d warnings with a replica, want none:\n%s", got, logs.String())
	}
	// WAIT returned once the replica had the revocation: it is there now.
	rdb := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rdb.Close()
	doc, err := rdb.Get(t.Context(), "foyer:{grant:g1}").Result()
	if err != nil || !strings.Contains(doc, `"revoked":true`) {
		t.Errorf("the replica's grant: %q, %v; want it revoked", doc, err)
	}
}

func TestEvictionPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"default", nil, "noeviction"},
		{"evicting", []string{"--maxmemory-policy", "allkeys-lru"}, "allkeys-lru"},
		{"CONFIG disabled", []string{"--rename-command", "CONFIG", ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testenv.StartRedis(t, tc.args...)
			s := open(t, redisstore.Config{Addrs: []string{srv.Addr}})
			got, err := s.EvictionPolicy(t.Context())
			if err != nil || got != tc.want {
				t.Errorf("EvictionPolicy = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
