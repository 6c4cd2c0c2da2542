package keys

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func TestWrongKEK(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	m1 := newManager(t, store, GenerateKEK(), testOptions(c, ES256))
	mustInit(t, m1)
	m2 := newManager(t, store, GenerateKEK(), testOptions(c, ES256))
	if err := m2.Init(context.Background()); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Init with a wrong KEK = %v, want ErrUnseal", err)
	}
	if err := m2.Reload(context.Background()); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Reload with a wrong KEK = %v, want ErrUnseal", err)
	}
	if _, err := m2.Sign("", "JWT", map[string]string{}); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Sign = %v, want ErrNoKey", err)
	}
	// A worker that loaded the set keeps it when a later set does not open.
	if err := m1.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	m3 := newManager(t, store, GenerateKEK(), testOptions(c, ES256))
	if err := m3.Reload(context.Background()); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Reload = %v", err)
	}
}

// TestTamperedStore: whoever can write to the store but lacks the KEK cannot
// get a key of theirs published.
func TestTamperedStore(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	kek := GenerateKEK()
	m := newManager(t, store, kek, testOptions(c, ES256))
	mustInit(t, m)
	good := storedSet(t, store)

	// The attacker's own key, sealed under another KEK.
	evil := newManager(t, &fakeStore{}, GenerateKEK(), testOptions(c, ES256))
	mustInit(t, evil)
	evilRec := storedSet(t, evil.store).Keys[0]

	swapped := good.Keys[0]
	swapped.Public = evilRec.Public // their public key, our sealed private key
	moved := evilRec
	moved.ID = good.Keys[0].ID + "x"
	moved.Sealed = good.Keys[0].Sealed // our sealed key under another kid
	tests := []struct {
		name string
		rec  storage.SigningKey
		want error
	}{
		{name: "foreign key", rec: evilRec, want: ErrUnseal},
		{name: "public key swapped", rec: swapped},
		{name: "sealed key moved to another kid", rec: moved, want: ErrUnseal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := storedSet(t, store).Version
			keys := []storage.SigningKey{tt.rec}
			if tt.name != "public key swapped" {
				keys = append(keys, good.Keys[0])
			}
			if err := store.SwapKeySet(context.Background(), v, storage.KeySet{Keys: keys}); err != nil {
				t.Fatal(err)
			}
			m2 := newManager(t, store, kek, testOptions(c, ES256))
			err := m2.Reload(context.Background())
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Reload = %v, want an error (%v)", err, tt.want)
			}
			if body, _ := m2.JWKS(); strings.Contains(string(body), evilRec.ID) {
				t.Fatal("the attacker's key is published")
			}
		})
	}
}

func TestInitSharedStore(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	kek := GenerateKEK()
	m1 := newManager(t, store, kek, testOptions(c, ES256))
	mustInit(t, m1)
	// A second worker configured with one more algorithm adds only its key.
	m2 := newManager(t, store, kek, testOptions(c, ES256, EdDSA))
	mustInit(t, m2)
	ks := storedSet(t, store)
	if len(ks.Keys) != 2 || ks.Keys[0].Algorithm != ES256 || ks.Keys[1].Algorithm != EdDSA {
		t.Fatalf("keys after the second Init: %+v", ks.Keys)
	}
	if !ks.Keys[1].SignFrom.Equal(c.Now()) {
		t.Fatal("the first key of an algorithm does not sign at once")
	}
	if err := m1.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	// m1 serves the EdDSA key too, though it does not sign with it.
	if !inJWKS(t, m1, ks.Keys[1].ID) {
		t.Fatal("a key of an unconfigured algorithm is not published")
	}
	if _, err := m1.Sign(EdDSA, "", 1); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Fatalf("Sign(EdDSA) on an ES256 manager = %v", err)
	}
}

// TestInitConcurrent: workers starting together on an empty store make one
// key per algorithm.
func TestInitConcurrent(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	kek := GenerateKEK()
	var ms []*Manager
	for range 4 {
		m := newManager(t, store, kek, testOptions(c, ES256, EdDSA))
		m.wait = func(ctx context.Context, _ time.Duration) error { runtime.Gosched(); return ctx.Err() }
		ms = append(ms, m)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	for i, m := range ms {
		wg.Go(func() { errs[i] = m.Init(context.Background()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(storedSet(t, store).Keys); n != 2 {
		t.Fatalf("%d keys after concurrent Init, want 2", n)
	}
	for _, m := range ms {
		if err := m.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, alg := range []string{ES256, EdDSA} {
			if kid := kidOf(t, mustSign(t, m, alg, "")); !inJWKS(t, ms[0], kid) {
				t.Fatal("workers disagree")
			}
		}
	}
}

// TestInitWaitsForLeaseHolder: on an empty store, Init lets the lease
// holder create the first keys.
func TestInitWaitsForLeaseHolder(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	kek := GenerateKEK()
	o1 := testOptions(c, ES256)
	o1.Holder = "w1"
	m1 := newManager(t, store, kek, o1)
	if ok, err := store.AcquireLease(context.Background(), LeaseName, "w1", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	m2 := newManager(t, store, kek, testOptions(c, ES256))
	waits := 0
	m2.wait = func(context.Context, time.Duration) error {
		waits++
		return m1.Init(context.Background()) // the holder does its job meanwhile
	}
	mustInit(t, m2)
	if waits != 1 || m2.Version() != 1 || len(storedSet(t, store).Keys) != 1 {
		t.Fatalf("waits %d, version %d", waits, m2.Version())
	}

	// A holder that never delivers is waited for one lease lifetime only.
	store2 := newMemStore(c)
	if ok, _ := store2.AcquireLease(context.Background(), LeaseName, "ghost", time.Hour); !ok {
		t.Fatal("lease")
	}
	m3 := newManager(t, store2, kek, testOptions(c, ES256))
	waits = 0
	m3.wait = func(context.Context, time.Duration) error { waits++; return nil }
	mustInit(t, m3)
	if waits != 6 || len(storedSet(t, store2).Keys) != 1 {
		t.Fatalf("waits %d", waits)
	}
	// Cancelled while waiting.
	store3 := newMemStore(c)
	_, _ = store3.AcquireLease(context.Background(), LeaseName, "ghost", time.Hour)
	m4 := newManager(t, store3, kek, testOptions(c, ES256))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m4.Init(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Init = %v, want context.Canceled", err)
	}
}

// TestLostKeySet: a store that loses the key set (an evicted Redis key) does
// not take the keys away; the lease holder writes them back.
func TestLostKeySet(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := &fakeStore{}
	kek := GenerateKEK()
	o1, o2 := testOptions(c, ES256), testOptions(c, ES256)
	o1.Holder, o2.Holder = "w1", "w2"
	m1, m2 := newManager(t, store, kek, o1), newManager(t, store, kek, o2)
	mustInit(t, m1)
	mustInit(t, m2)
	mustTick(t, m1) // w1 holds the lease
	c.Advance(time.Hour)
	mustTick(t, m1) // a rotation: version 2
	mustTick(t, m2)
	kid := kidOf(t, mustSign(t, m2, "", ""))
	body, etag := m2.JWKS()

	store.wipe()
	c.Advance(time.Second)
	mustTick(t, m2)
	if got := kidOf(t, mustSign(t, m2, "", "")); got != kid {
		t.Fatal("signing key changed after the loss")
	}
	if b, e := m2.JWKS(); !bytes.Equal(b, body) || e != etag {
		t.Fatal("JWKS changed after the loss")
	}
	mustTick(t, m1) // the holder restores
	ks := storedSet(t, store)
	if ks.Version != 1 || len(ks.Keys) != 2 {
		t.Fatalf("restored set: version %d, %d keys", ks.Version, len(ks.Keys))
	}
	mustTick(t, m2)
	if m2.Version() != 1 || kidOf(t, mustSign(t, m2, "", "")) != kid {
		t.Fatal("worker did not pick up the restored set")
	}
}
