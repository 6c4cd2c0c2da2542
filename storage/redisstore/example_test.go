package redisstore_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/redisstore"
)

// Open a store on a Sentinel-watched master, waiting for one replica
// after each security write, and warn if Redis may evict keys.
func ExampleOpen() {
	ctx := context.Background()
	s, err := redisstore.Open(ctx, redisstore.Config{
		Addrs:        []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"},
		MasterName:   "foyer",
		Username:     "foyer",
		Password:     "from-a-secret-file",
		KeyPrefix:    "foyer:",
		WaitReplicas: 1,
		WaitTimeout:  100 * time.Millisecond,
	})
	if errors.Is(err, storage.ErrUnavailable) {
		log.Printf("Redis is not reachable yet: %v", err)
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if policy, err := s.EvictionPolicy(ctx); err == nil && policy != "" && policy != "noeviction" {
		log.Printf("Redis may evict sessions and keys: maxmemory-policy is %s", policy)
	}
}
