package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// TestMemoryPerRecord measures with MEMORY USAGE what a grant after one
// rotation (its record, token set and two refresh-token keys) and an SSO
// session cost in Redis, beside the index sets they share with the user's
// other records, and holds them to a budget: 2 KiB and 1 KiB.
func TestMemoryPerRecord(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	now := time.Now().Truncate(time.Millisecond)
	s := open(t, redisstore.Config{Addrs: []string{srv.Addr}, KeyPrefix: "foyer:"},
		redisstore.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	login := benchLogin()
	g := storage.Grant{ID: storage.NewID(), ClientID: "client-1", Scopes: []string{"openid", "offline_access"},
		Login: login, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		AbsoluteExpiresAt: now.Add(30 * 24 * time.Hour), TokenHash: storage.HashSecret(storage.NewSecret())}
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RotateRefreshToken(ctx, storage.Rotation{TokenHash: g.TokenHash, ClientID: g.ClientID,
		NewTokenHash: storage.HashSecret(storage.NewSecret()), SuccessorSealed: make([]byte, 80),
		Grace: 10 * time.Second, IdleTTL: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	sess := storage.Session{ID: login.SessionID, UserID: login.UserID, Login: login, Clients: []string{"client-1"},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var grant, session, shared int64
	for _, k := range keys {
		n, err := rdb.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%6d B  %s", n, k)
		switch {
		case strings.Contains(k, "{grant:"), strings.Contains(k, "{rt:"):
			grant += n
		case strings.HasPrefix(k, "foyer:{session:") && !strings.HasSuffix(k, ":grants"):
			session += n
		default:
			shared += n
		}
	}
	t.Logf("grant with two refresh tokens: %d B; session: %d B; index sets: %d B", grant, session, shared)
	if grant > 2048 || session > 1024 {
		t.Errorf("grant %d B (budget 2 KiB), session %d B (budget 1 KiB)", grant, session)
	}
}
