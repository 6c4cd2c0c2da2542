package keys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testOptions are short, consistent durations for the tests.
func testOptions(c *clock, algs ...string) Options {
	return Options{
		Algorithms:     algs,
		RotationPeriod: time.Hour,
		JWKSMaxAge:     5 * time.Minute,
		PublishAhead:   11 * time.Minute,
		TokenLifetime:  30 * time.Minute,
		ReloadInterval: 30 * time.Second,
		Clock:          c.Now,
	}
}

func newMemStore(c *clock) *memory.Store { return memory.New(memory.WithClock(c.Now)) }

func newManager(t testing.TB, store Store, kek KEK, opts Options) *Manager {
	t.Helper()
	m, err := NewManager(store, kek, opts)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m
}

func mustInit(t testing.TB, m *Manager) {
	t.Helper()
	if err := m.Init(context.Background()); err != nil {
		t.Fatalf("Init: %v", err)
	}
}

func mustTick(t testing.TB, m *Manager) {
	t.Helper()
	if err := m.tick(context.Background()); err != nil {
		t.Fatalf("tick: %v", err)
	}
}

func mustSign(t testing.TB, m *Manager, alg, typ string) string {
	t.Helper()
	tok, err := m.Sign(alg, typ, map[string]any{"sub": "alice", "n": 1})
	if err != nil {
		t.Fatalf("Sign(%q): %v", alg, err)
	}
	return tok
}

// header decodes a compact token's protected header.
func header(t testing.TB, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("header: %v", err)
	}
	return h
}

func kidOf(t testing.TB, tok string) string {
	t.Helper()
	kid, _ := header(t, tok)["kid"].(string)
	return kid
}

// jwksKids lists the kids in a JWKS body, in order.
func jwksKids(t testing.TB, body []byte) []string {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var out []string
	for _, k := range doc.Keys {
		if _, ok := k["d"]; ok {
			t.Fatalf("JWKS holds a private key")
		}
		out = append(out, fmt.Sprint(k["kid"]))
	}
	return out
}

func inJWKS(t testing.TB, m *Manager, kid string) bool {
	t.Helper()
	body, _ := m.JWKS()
	return slices.Contains(jwksKids(t, body), kid)
}

func storedSet(t testing.TB, s storage.Keys) storage.KeySet {
	t.Helper()
	ks, err := s.KeySet(context.Background())
	if err != nil {
		t.Fatalf("KeySet: %v", err)
	}
	return ks
}

func storedKey(t testing.TB, s storage.Keys, kid string) (storage.SigningKey, bool) {
	t.Helper()
	for _, k := range storedSet(t, s).Keys {
		if k.ID == kid {
			return k, true
		}
	}
	return storage.SigningKey{}, false
}

// fakeStore is a minimal Store whose key set can be wiped, to play a store
// that loses data (a Redis eviction); the memory backend cannot.
type fakeStore struct {
	mu     sync.Mutex
	set    *storage.KeySet
	leases map[string]string
}

func (f *fakeStore) KeySet(context.Context) (storage.KeySet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.set == nil {
		return storage.KeySet{}, storage.ErrNotFound
	}
	ks := *f.set
	ks.Keys = slices.Clone(ks.Keys)
	return ks, nil
}

func (f *fakeStore) SwapKeySet(_ context.Context, expect int64, next storage.KeySet) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cur int64
	if f.set != nil {
		cur = f.set.Version
	}
	if cur != expect {
		return storage.ErrConflict
	}
	next.Version = expect + 1
	next.Keys = slices.Clone(next.Keys)
	f.set = &next
	return nil
}

func (f *fakeStore) AcquireLease(_ context.Context, name, holder string, _ time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leases == nil {
		f.leases = map[string]string{}
	}
	if h, ok := f.leases[name]; ok && h != holder {
		return false, nil
	}
	f.leases[name] = holder
	return true, nil
}

func (f *fakeStore) ReleaseLease(_ context.Context, name, holder string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leases[name] == holder {
		delete(f.leases, name)
	}
	return nil
}

func (f *fakeStore) wipe() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.set = nil
}

// countingStore counts the successful key-set writes made through it.
type countingStore struct {
	Store
	mu     sync.Mutex
	writes int
}

func (c *countingStore) SwapKeySet(ctx context.Context, expect int64, next storage.KeySet) error {
	err := c.Store.SwapKeySet(ctx, expect, next)
	if err == nil {
		c.mu.Lock()
		c.writes++
		c.mu.Unlock()
	}
	return err
}

func (c *countingStore) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// Interface guards
var (
	_ Store = (*fakeStore)(nil)
	_ Store = (*countingStore)(nil)
	_ Store = (*memory.Store)(nil)
)
