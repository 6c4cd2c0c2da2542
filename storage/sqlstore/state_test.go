package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

// fakeClock is a settable clock for the tests of this file.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// overlap runs fn(i) on n goroutines released together.
func overlap(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func TestRedeemRaceThroughThePools(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, _ := openTemp(t, WithClock(clock.Now))
	ctx := context.Background()
	code := storage.AuthCode{ID: storage.HashSecret("code"), ClientID: "c", GrantID: "g", ExpiresAt: clock.Now().Add(time.Minute)}
	if err := s.CreateAuthCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	var won, used, other atomic.Int64
	overlap(100, func(i int) {
		// Readers run beside the writers: under WAL they must neither wait
		// for nor disturb the redeemers.
		if i%4 == 0 {
			if _, err := s.Grant(ctx, "nothing"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("read beside the race: %v", err)
			}
		}
		got, err := s.RedeemAuthCode(ctx, code.ID)
		switch {
		case err == nil:
			won.Add(1)
		case errors.Is(err, storage.ErrAlreadyUsed) && got.ID == code.ID:
			used.Add(1)
		default:
			other.Add(1)
			t.Errorf("RedeemAuthCode: %v", err)
		}
	})
	if won.Load() != 1 || used.Load() != 99 || other.Load() != 0 {
		t.Errorf("won %d, already used %d, other %d; want 1, 99, 0", won.Load(), used.Load(), other.Load())
	}
	clock.Advance(time.Minute)
	if _, err := s.RedeemAuthCode(ctx, code.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RedeemAuthCode after expiry: %v; want ErrNotFound", err)
	}
}

func TestRotateRaceThroughThePools(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		grace              time.Duration
		wantRetry, wantErr int64
	}{
		{name: "with grace the losers get the successor", grace: time.Minute, wantRetry: 99},
		{name: "without grace the losers revoke the grant", grace: 0, wantErr: 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			s, _ := openTemp(t, WithClock(clock.Now))
			ctx := context.Background()
			now := clock.Now()
			g := storage.Grant{ID: "g", ClientID: "c", TokenHash: "rt-0", CreatedAt: now,
				ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour)}
			if err := s.CreateGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
			var rotated, retried, failed atomic.Int64
			overlap(100, func(i int) {
				_, sealed, err := s.RotateRefreshToken(ctx, storage.Rotation{
					TokenHash: "rt-0", ClientID: "c", NewTokenHash: "rt-" + string(rune('A'+i%26)) + string(rune('a'+i/26)),
					SuccessorSealed: []byte("sealed"), Grace: tt.grace, IdleTTL: time.Hour,
				})
				switch {
				case err == nil && sealed == nil:
					rotated.Add(1)
				case err == nil:
					retried.Add(1)
				case errors.Is(err, storage.ErrReuse) || errors.Is(err, storage.ErrRevoked):
					failed.Add(1)
				default:
					t.Errorf("RotateRefreshToken: %v", err)
				}
			})
			if rotated.Load() != 1 || retried.Load() != tt.wantRetry || failed.Load() != tt.wantErr {
				t.Errorf("rotated %d, retried %d, failed %d; want 1, %d, %d",
					rotated.Load(), retried.Load(), failed.Load(), tt.wantRetry, tt.wantErr)
			}
		})
	}
}

func TestSweepEveryExpiringTable(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, _ := openTemp(t, WithClock(clock.Now))
	ctx := context.Background()
	exp := clock.Now().Add(time.Minute)
	steps := []struct {
		name string
		do   func() error
	}{
		{name: "auth request", do: func() error { return s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "r", ExpiresAt: exp}) }},
		{name: "auth code", do: func() error { return s.CreateAuthCode(ctx, storage.AuthCode{ID: "c", ExpiresAt: exp}) }},
		{name: "grant", do: func() error {
			return s.CreateGrant(ctx, storage.Grant{ID: "g", TokenHash: "t", ExpiresAt: exp, AbsoluteExpiresAt: exp})
		}},
		{name: "session", do: func() error { return s.CreateSession(ctx, storage.Session{ID: "s", ExpiresAt: exp}) }},
		{name: "device request", do: func() error {
			return s.CreateDeviceRequest(ctx, storage.DeviceRequest{ID: "d", UserCode: "U", ExpiresAt: exp})
		}},
		{name: "replay", do: func() error { return s.Remember(ctx, "k", exp) }},
		{name: "rate limit", do: func() error { _, err := s.Hit(ctx, "k", time.Minute); return err }},
		{name: "lease", do: func() error { _, err := s.AcquireLease(ctx, "l", "h", time.Minute); return err }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep before expiry: %d, %v; want 0", n, err)
	}
	clock.Advance(time.Minute)
	n, err := s.Sweep(ctx)
	if err != nil || n != len(steps) {
		t.Fatalf("Sweep after expiry: %d, %v; want %d", n, err, len(steps))
	}
	var tokens int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM refresh_tokens`).Scan(&tokens); err != nil || tokens != 0 {
		t.Errorf("refresh tokens left after sweeping their grant: %d, %v", tokens, err)
	}
	// Everything expired is creatable again.
	clock.Advance(-time.Minute)
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Errorf("%s again after sweep: %v", st.name, err)
		}
	}
}

func TestExpiredButUnsweptIDsAreReusable(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, _ := openTemp(t, WithClock(clock.Now))
	ctx := context.Background()
	g := storage.Grant{ID: "g", TokenHash: "t", ExpiresAt: clock.Now().Add(time.Minute)}
	d := storage.DeviceRequest{ID: "d", UserCode: "ABCD", ExpiresAt: clock.Now().Add(time.Minute)}
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDeviceRequest(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGrant(ctx, storage.Grant{ID: "g2", TokenHash: "t", ExpiresAt: clock.Now().Add(time.Hour)}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("CreateGrant with a live grant's token: %v; want ErrConflict", err)
	}
	clock.Advance(time.Minute)
	g.ExpiresAt, d.ExpiresAt = clock.Now().Add(time.Minute), clock.Now().Add(time.Minute)
	d.ID = "d2"
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Errorf("CreateGrant over an expired one: %v", err)
	}
	if err := s.CreateDeviceRequest(ctx, d); err != nil {
		t.Errorf("CreateDeviceRequest with an expired request's user code: %v", err)
	}
}

func TestDatabaseFileHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, path := openTemp(t, WithClock(clock.Now))
	ctx := context.Background()
	exp := clock.Now().Add(time.Hour)
	code, refresh, next, cookie, device := storage.NewSecret(), storage.NewSecret(), storage.NewSecret(),
		storage.NewSecret(), storage.NewSecret()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("CreateAuthCode", s.CreateAuthCode(ctx, storage.AuthCode{ID: storage.HashSecret(code), ExpiresAt: exp}))
	must("CreateGrant", s.CreateGrant(ctx, storage.Grant{ID: "g", ClientID: "c", TokenHash: storage.HashSecret(refresh),
		ExpiresAt: exp}))
	_, _, err := s.RotateRefreshToken(ctx, storage.Rotation{TokenHash: storage.HashSecret(refresh), ClientID: "c",
		NewTokenHash: storage.HashSecret(next), SuccessorSealed: []byte("opaque sealed box"), IdleTTL: time.Hour})
	must("RotateRefreshToken", err)
	must("CreateSession", s.CreateSession(ctx, storage.Session{ID: storage.HashSecret(cookie), ExpiresAt: exp}))
	must("CreateDeviceRequest", s.CreateDeviceRequest(ctx, storage.DeviceRequest{ID: storage.HashSecret(device),
		UserCode: "WDJB-MJHT", ExpiresAt: exp}))
	must("Close", s.Close())

	files, err := filepath.Glob(path + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("database files: %v, %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{code, refresh, next, cookie, device} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds a bearer secret in clear", filepath.Base(f))
			}
		}
	}
}
