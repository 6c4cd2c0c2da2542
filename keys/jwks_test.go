package keys

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestJWKS(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	m := newManager(t, store, GenerateKEK(), testOptions(c, ES256, EdDSA))
	if body, etag := m.JWKS(); string(body) != `{"keys":[]}` || etag == "" {
		t.Fatalf("JWKS before Init: %s %s", body, etag)
	}
	mustInit(t, m)
	body, etag := m.JWKS()
	es := kidOf(t, mustSign(t, m, ES256, ""))
	ed := kidOf(t, mustSign(t, m, EdDSA, ""))
	if got := jwksKids(t, body); !slices.Equal(got, []string{es, ed}) {
		t.Fatalf("JWKS kids %v, want default algorithm first", got)
	}
	if b2, e2 := m.JWKS(); &b2[0] != &body[0] || e2 != etag {
		t.Fatal("JWKS rebuilt without a change")
	}

	if err := m.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	b3, e3 := m.JWKS()
	if e3 == etag {
		t.Fatal("ETag unchanged after a rotation")
	}
	got := jwksKids(t, b3)
	if len(got) != 4 || got[0] != es || got[1] != ed {
		t.Fatalf("JWKS after rotation %v: want active keys first, then pending", got)
	}
	pendingES := got[2]

	// At SignFrom the order changes: the new keys lead, the old ones trail.
	rec, _ := storedKey(t, store, pendingES)
	c.Set(rec.SignFrom)
	b4, e4 := m.JWKS()
	got = jwksKids(t, b4)
	if e4 == e3 || got[0] != pendingES || got[2] != es || got[3] != ed {
		t.Fatalf("JWKS after takeover %v", got)
	}
	// At RemoveAt the old ones leave, with no reload.
	old, _ := storedKey(t, store, es)
	c.Set(old.RemoveAt)
	if got := jwksKids(t, must(m.JWKS())); len(got) != 2 || slices.Contains(got, es) || slices.Contains(got, ed) {
		t.Fatalf("JWKS after RemoveAt %v", got)
	}
	// A clock that goes back gets the right document too.
	c.Set(rec.SignFrom.Add(-time.Second))
	if _, e := m.JWKS(); e != e3 {
		t.Fatal("JWKS wrong after the clock went back")
	}
}

func must(b []byte, _ string) []byte { return b }

func TestJWKSNoAllocs(t *testing.T) {
	c := newClock()
	m := newManager(t, newMemStore(c), GenerateKEK(), testOptions(c, ES256))
	mustInit(t, m)
	m.JWKS()
	if n := testing.AllocsPerRun(100, func() { m.JWKS() }); n != 0 {
		t.Fatalf("JWKS allocates %v times per call", n)
	}
}

// TestConcurrentUse runs JWKS, Sign and Verify against reloads and
// rotations, for the race detector.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	kek := GenerateKEK()
	m := newManager(t, store, kek, testOptions(c, ES256))
	mustInit(t, m)
	other := newManager(t, store, kek, testOptions(c, ES256))
	mustInit(t, other)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				body, _ := m.JWKS()
				if len(body) == 0 {
					t.Error("empty JWKS")
					return
				}
				signedAt := c.Now()
				tok, err := m.Sign("", "JWT", map[string]int{"n": 1})
				if err != nil {
					t.Error(err)
					return
				}
				// The clock runs on meanwhile; a token must verify for
				// at least its lifetime.
				if _, err := m.Verify(tok, "JWT"); err != nil && c.Now().Before(signedAt.Add(30*time.Minute)) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			c.Advance(2 * time.Minute)
			if err := other.tick(context.Background()); err != nil {
				t.Error(err)
			}
			if err := m.tick(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
}
