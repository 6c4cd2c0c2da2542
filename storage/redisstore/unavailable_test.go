package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/redisstore"
)

// quickly bounds how long an operation may take to fail on a Redis that is
// down, with the test's timeouts of 200ms.
const quickly = 3 * time.Second

func TestUnavailableAndBack(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	now := time.Now().Truncate(time.Millisecond)
	clock := func() time.Time { return now }
	s := open(t, configFor(t, srv.URL), redisstore.WithClock(clock),
		redisstore.WithTimeouts(200*time.Millisecond, 200*time.Millisecond))
	ctx := t.Context()

	g := storage.Grant{ID: "g1", ClientID: "c1", TokenHash: "rt-1",
		Login:     storage.Login{UserID: "u1", SessionID: "s1"},
		ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour)}
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}
	if err := s.CreateAuthCode(ctx, storage.AuthCode{ID: "code1", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatalf("CreateAuthCode: %v", err)
	}

	srv.Stop(t)
	// Few enough operations that go-redis's dial circuit (one failure per
	// pooled connection) stays closed, so that the first call after the
	// restart must succeed.
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"RedeemAuthCode", func() error { _, err := s.RedeemAuthCode(ctx, "code1"); return err }},
		{"RotateRefreshToken", func() error {
			_, _, err := s.RotateRefreshToken(ctx, storage.Rotation{TokenHash: "rt-1", ClientID: "c1", NewTokenHash: "rt-2", IdleTTL: time.Hour})
			return err
		}},
		{"GrantsByUser", func() error { _, err := s.GrantsByUser(ctx, "u1"); return err }},
		{"CreateSession", func() error {
			return s.CreateSession(ctx, storage.Session{ID: "s1", ExpiresAt: now.Add(time.Hour)})
		}},
	} {
		start := time.Now()
		err := tc.call()
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s with Redis down: %v; want ErrUnavailable", tc.name, err)
		}
		if d := time.Since(start); d > quickly {
			t.Errorf("%s with Redis down took %v; want under %v", tc.name, d, quickly)
		}
	}

	srv.Start(t) // empty: the test server keeps nothing
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the restart: %v", err)
	}
	if err := s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "ar1", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatalf("CreateAuthRequest after the restart: %v", err)
	}
	if _, err := s.TakeAuthRequest(ctx, "ar1"); err != nil {
		t.Errorf("TakeAuthRequest after the restart: %v", err)
	}
	if _, err := s.Grant(ctx, "g1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Grant after a restart that lost it: %v; want ErrNotFound", err)
	}
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Fatalf("CreateGrant after the restart: %v", err)
	}
	// The scripts were lost with the restart: EVALSHA falls back to EVAL.
	if _, _, err := s.RotateRefreshToken(ctx, storage.Rotation{TokenHash: "rt-1", ClientID: "c1", NewTokenHash: "rt-2", IdleTTL: time.Hour}); err != nil {
		t.Errorf("RotateRefreshToken after the restart: %v", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	srv.Stop(t)
	cfg := redisstore.Config{Addrs: []string{srv.Addr}}
	start := time.Now()
	_, err := redisstore.Open(t.Context(), cfg, redisstore.WithTimeouts(200*time.Millisecond, 200*time.Millisecond))
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Open on a stopped server: %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > quickly {
		t.Errorf("Open on a stopped server took %v; want under %v", d, quickly)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	s, err := redisstore.Open(t.Context(), configFor(t, url))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	if _, err := s.AuthRequest(ctx, "x"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("AuthRequest after Close: %v; want ErrUnavailable", err)
	}
	if _, err := s.RedeemAuthCode(ctx, "x"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("RedeemAuthCode after Close: %v; want ErrUnavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close twice: %v", err)
	}
}

func TestACLUser(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t, "--user", "foyer", "on", ">s3cret", "~*", "+@all", "--user", "default", "off")
	ctx := t.Context()
	s := open(t, redisstore.Config{Addrs: []string{srv.Addr}, Username: "foyer", Password: "s3cret"})
	if err := s.Remember(ctx, "k", time.Now().Add(time.Minute)); err != nil {
		t.Errorf("Remember as the ACL user: %v", err)
	}
	for _, tc := range []struct {
		name string
		cfg  redisstore.Config
	}{
		{"wrong password", redisstore.Config{Addrs: []string{srv.Addr}, Username: "foyer", Password: "wrong"}},
		{"no user", redisstore.Config{Addrs: []string{srv.Addr}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redisstore.Open(ctx, tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("Open: %v; refused credentials are not ErrUnavailable", err)
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Errorf("Open's error shows the password: %v", err)
			}
		})
	}
}
