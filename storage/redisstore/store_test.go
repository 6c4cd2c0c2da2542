package redisstore_test

import (
	"testing"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/redisstore"
	"github.com/foyerid/foyer/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

// configFor returns a Config for the Redis at url with a fresh key prefix
// whose keys are deleted when t ends.
func configFor(t testing.TB, url string) redisstore.Config {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("Redis URL: %v", err)
	}
	return redisstore.Config{
		Addrs:     []string{opt.Addr},
		Username:  opt.Username,
		Password:  opt.Password,
		DB:        opt.DB,
		TLS:       opt.TLSConfig,
		KeyPrefix: testenv.RedisPrefix(t, url),
	}
}

// open opens a store on cfg and closes it when t ends.
func open(t testing.TB, cfg redisstore.Config, opts ...redisstore.Option) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(t.Context(), cfg, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	url := testenv.RedisURL(t)
	storagetest.RunState(t, func(t *testing.T, clock *storagetest.Clock) storage.State {
		return open(t, configFor(t, url), redisstore.WithClock(clock.Now))
	})
}
