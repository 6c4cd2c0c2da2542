package keys

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{name: "defaults", ok: true},
		{name: "all algorithms", opts: Options{Algorithms: []string{EdDSA, ES256, RS256}}, ok: true},
		{name: "unknown algorithm", opts: Options{Algorithms: []string{"PS256"}}},
		{name: "hmac", opts: Options{Algorithms: []string{"HS256"}}},
		{name: "none", opts: Options{Algorithms: []string{"none"}}},
		{name: "duplicate", opts: Options{Algorithms: []string{ES256, ES256}}},
		{name: "publish ahead below max age", opts: Options{JWKSMaxAge: 10 * time.Minute, PublishAhead: 9 * time.Minute}},
		{name: "publish ahead equal to max age plus reload", opts: Options{JWKSMaxAge: 5 * time.Minute, PublishAhead: 5*time.Minute + 5*time.Second}},
		{name: "rotation period not above publish ahead", opts: Options{RotationPeriod: 11 * time.Minute}},
		{name: "negative lifetime", opts: Options{TokenLifetime: -time.Second}},
		{name: "negative reload", opts: Options{ReloadInterval: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewManager(&fakeStore{}, GenerateKEK(), tt.opts)
			if (err == nil) != tt.ok {
				t.Fatalf("NewManager = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	m := newManager(t, &fakeStore{}, GenerateKEK(), Options{})
	o := m.opts
	if o.RotationPeriod != 6*time.Hour || o.JWKSMaxAge != 5*time.Minute || o.PublishAhead != 11*time.Minute ||
		o.ReloadInterval != 5*time.Second || o.TokenLifetime != 24*time.Hour || o.Holder == "" ||
		m.DefaultAlgorithm() != RS256 || !slices.Equal(m.Algorithms(), []string{RS256}) || m.JWKSMaxAge() != 5*time.Minute {
		t.Fatalf("defaults: %+v", o)
	}
	if _, err := NewManager(&fakeStore{}, KEK{}, Options{}); err == nil {
		t.Fatal("NewManager accepted an unset KEK")
	}
}

// TestRotationLifecycle follows one key from creation to removal, and its
// successor from pre-publication to signing.
func TestRotationLifecycle(t *testing.T) {
	t.Parallel()
	c := newClock()
	t0 := c.Now()
	store := newMemStore(c)
	m := newManager(t, store, GenerateKEK(), testOptions(c, ES256))
	mustInit(t, m)
	tokA := mustSign(t, m, "", "JWT")
	kidA := kidOf(t, tokA)

	// Not yet due: RotationPeriod − PublishAhead after SignFrom.
	c.Set(t0.Add(time.Hour - 11*time.Minute - time.Second))
	mustTick(t, m)
	if n := len(storedSet(t, store).Keys); n != 1 {
		t.Fatalf("rotated early: %d keys", n)
	}
	c.Advance(time.Second)
	mustTick(t, m)
	ks := storedSet(t, store)
	if len(ks.Keys) != 2 {
		t.Fatalf("no rotation when due: %d keys", len(ks.Keys))
	}
	b := ks.Keys[1]
	a, _ := storedKey(t, store, kidA)
	if want := t0.Add(time.Hour); !b.SignFrom.Equal(want) {
		t.Fatalf("new key SignFrom = %v, want %v", b.SignFrom, want)
	}
	if want := b.SignFrom.Add(30*time.Minute + 5*time.Minute); !a.RemoveAt.Equal(want) {
		t.Fatalf("old key RemoveAt = %v, want %v", a.RemoveAt, want)
	}
	if !b.RemoveAt.IsZero() {
		t.Fatal("new key has a RemoveAt")
	}

	// Pending: published, not signing.
	if !inJWKS(t, m, b.ID) || !inJWKS(t, m, kidA) {
		t.Fatal("JWKS lacks the pending or the active key")
	}
	c.Set(b.SignFrom.Add(-time.Nanosecond))
	if kid := kidOf(t, mustSign(t, m, "", "JWT")); kid != kidA {
		t.Fatalf("signed with %s before the new key's SignFrom", kid)
	}
	// Another tick while pending adds nothing.
	mustTick(t, m)
	if n := len(storedSet(t, store).Keys); n != 2 {
		t.Fatalf("second pending key: %d keys", n)
	}

	// Takeover.
	c.Set(b.SignFrom)
	if kid := kidOf(t, mustSign(t, m, "", "JWT")); kid != b.ID {
		t.Fatalf("signed with %s at SignFrom, want %s", kid, b.ID)
	}
	if _, err := m.Verify(tokA, "JWT"); err != nil {
		t.Fatalf("token of the old key no longer verifies: %v", err)
	}

	// Retirement.
	c.Set(a.RemoveAt.Add(-time.Nanosecond))
	if _, err := m.Verify(tokA, "JWT"); err != nil || !inJWKS(t, m, kidA) {
		t.Fatalf("old key gone before RemoveAt: %v", err)
	}
	c.Set(a.RemoveAt)
	if _, err := m.Verify(tokA, "JWT"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("removed key still verifies: %v", err)
	}
	if inJWKS(t, m, kidA) {
		t.Fatal("removed key still in JWKS before the prune")
	}
	if slices.ContainsFunc(m.Keys(), func(k KeyInfo) bool { return k.ID == kidA }) {
		t.Fatal("Keys lists a removed key")
	}
	mustTick(t, m)
	if _, ok := storedKey(t, store, kidA); ok {
		t.Fatal("removed key not pruned from the store")
	}
	if !inJWKS(t, m, b.ID) {
		t.Fatal("active key missing after prune")
	}
}

// TestLateRotation: a lease holder that comes back after the rotation was
// due still pre-publishes the new key.
func TestLateRotation(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	m := newManager(t, store, GenerateKEK(), testOptions(c, EdDSA))
	mustInit(t, m)
	kidA := kidOf(t, mustSign(t, m, "", ""))
	c.Advance(3 * time.Hour)
	mustTick(t, m)
	ks := storedSet(t, store)
	if len(ks.Keys) != 2 {
		t.Fatalf("%d keys", len(ks.Keys))
	}
	if want := c.Now().Add(11 * time.Minute); !ks.Keys[1].SignFrom.Equal(want) {
		t.Fatalf("late rotation SignFrom = %v, want %v", ks.Keys[1].SignFrom, want)
	}
	if kid := kidOf(t, mustSign(t, m, "", "")); kid != kidA {
		t.Fatal("late rotation signs at once")
	}
}

func TestRotateForced(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	m := newManager(t, store, GenerateKEK(), testOptions(c, ES256, EdDSA))
	mustInit(t, m)
	c.Advance(time.Minute)
	v := m.Version()
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Version() != v+1 {
		t.Fatalf("version %d after Rotate, want %d", m.Version(), v+1)
	}
	ks := storedSet(t, store)
	if len(ks.Keys) != 4 {
		t.Fatalf("%d keys after Rotate, want 4", len(ks.Keys))
	}
	for _, k := range ks.Keys {
		if k.CreatedAt.Equal(c.Now()) {
			if !k.SignFrom.Equal(c.Now().Add(11 * time.Minute)) {
				t.Fatalf("forced key signs from %v", k.SignFrom)
			}
		} else if !k.RemoveAt.Equal(c.Now().Add(11*time.Minute + 35*time.Minute)) {
			t.Fatalf("retired key removed at %v", k.RemoveAt)
		}
	}
	// A second Rotate while keys are pending changes nothing.
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Version() != v+1 {
		t.Fatal("second Rotate wrote a new key set")
	}
}

// TestTwoWorkers runs two workers over one store through many rotations and
// a crash of the lease holder, with a relying party that caches JWKS for
// JWKSMaxAge. At every step the key each worker signs with is in the JWKS of
// both workers and in the relying party's cached copy, and every token stays
// verifiable until it expires.
func TestTwoWorkers(t *testing.T) {
	t.Parallel()
	c := newClock()
	mem := newMemStore(c)
	algs := []string{ES256, EdDSA}
	opts := testOptions(c, algs...)
	kek := GenerateKEK()
	s1, s2 := &countingStore{Store: mem}, &countingStore{Store: mem}
	o1, o2 := opts, opts
	o1.Holder, o2.Holder = "w1", "w2"
	m1, m2 := newManager(t, s1, kek, o1), newManager(t, s2, kek, o2)
	mustInit(t, m1)
	mustInit(t, m2)
	if m1.Version() != 1 || m2.Version() != 1 {
		t.Fatalf("versions %d, %d after Init; want one key set", m1.Version(), m2.Version())
	}
	initWrites := s1.count() + s2.count()

	type issued struct {
		tok, kid string
		exp      time.Time
	}
	var (
		live    []issued
		rpBody  []byte
		rpSet   jose.JSONWebKeySet
		rpAt    time.Time
		fetches int
		kids    = map[string]bool{}
	)
	step := opts.ReloadInterval
	steps := int(8 * time.Hour / step)
	crash := steps / 2
	for i := range steps {
		c.Advance(step)
		now := c.Now()
		workers := []*Manager{m1, m2}
		if i%2 == 1 {
			workers = []*Manager{m2, m1}
		}
		if i >= crash {
			workers = slices.DeleteFunc(workers, func(m *Manager) bool { return m == m1 }) // w1 crashed
		}
		for _, m := range workers {
			mustTick(t, m)
		}
		// The relying party refreshes its cache when it expires, from
		// whichever worker answers.
		if rpBody == nil || !now.Before(rpAt.Add(opts.JWKSMaxAge)) {
			rpBody, _ = workers[fetches%len(workers)].JWKS()
			fetches++
			rpAt = now
			rpSet = jose.JSONWebKeySet{}
			if err := json.Unmarshal(rpBody, &rpSet); err != nil {
				t.Fatal(err)
			}
		}
		published := map[*Manager][]string{}
		for _, w := range workers {
			body, _ := w.JWKS()
			published[w] = jwksKids(t, body)
		}
		for _, m := range workers {
			for _, alg := range algs {
				tok := mustSign(t, m, alg, "JWT")
				kid := kidOf(t, tok)
				kids[kid] = true
				for _, w := range workers {
					if !slices.Contains(published[w], kid) {
						t.Fatalf("step %d: %s signs with %s, absent from the JWKS of %s", i, m.opts.Holder, kid, w.opts.Holder)
					}
				}
				keys := rpSet.Key(kid)
				if len(keys) != 1 {
					t.Fatalf("step %d: %s signs with %s, absent from the relying party's cached JWKS", i, m.opts.Holder, kid)
				}
				jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := jws.Verify(keys[0]); err != nil {
					t.Fatalf("step %d: relying party cannot verify: %v", i, err)
				}
				live = append(live, issued{tok: tok, kid: kid, exp: now.Add(opts.TokenLifetime)})
			}
		}
		live = slices.DeleteFunc(live, func(x issued) bool { return !now.Before(x.exp) })
		for _, x := range live {
			if len(rpSet.Key(x.kid)) != 1 {
				t.Fatalf("step %d: a live token's key %s left the relying party's JWKS", i, x.kid)
			}
			for _, w := range workers {
				if !slices.Contains(published[w], x.kid) {
					t.Fatalf("step %d: a live token's key %s left the JWKS of %s", i, x.kid, w.opts.Holder)
				}
			}
		}
		// Verify the oldest live token fully at every worker.
		for _, w := range workers {
			if _, err := w.Verify(live[0].tok, "JWT"); err != nil {
				t.Fatalf("step %d: %s rejects a live token: %v", i, w.opts.Holder, err)
			}
		}
		if i == crash-1 {
			// Before the crash, only the lease holder (w1, which ticked
			// first) ever wrote.
			if s2.count() != 0 || s1.count() <= initWrites {
				t.Fatalf("writes before the crash: w1 %d, w2 %d; want only the lease holder", s1.count(), s2.count())
			}
		}
	}
	if s2.count() == 0 {
		t.Fatal("w2 never took over the rotation after w1 crashed")
	}
	// 8h at one rotation an hour, for two algorithms.
	if len(kids) < 2*7 {
		t.Fatalf("only %d keys used", len(kids))
	}
	// Pruning keeps the stored set small.
	if n := len(storedSet(t, mem).Keys); n > 2*3 {
		t.Fatalf("%d keys stored: pruning does not work", n)
	}
}

func TestRunReleasesLease(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	o := testOptions(c, ES256)
	o.Holder = "w1"
	m := newManager(t, store, GenerateKEK(), o)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	// Run did one round (a key, though pre-published since Init was not
	// called) and let go of the lease.
	if n := len(storedSet(t, store).Keys); n != 1 {
		t.Fatalf("%d keys", n)
	}
	if ok, _ := store.AcquireLease(context.Background(), LeaseName, "w2", time.Minute); !ok {
		t.Fatal("Run kept the lease")
	}
	if m.LoadedAt().IsZero() {
		t.Fatal("LoadedAt not set")
	}
}
