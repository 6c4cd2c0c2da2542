package sqlstore

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkRedeemAuthCode measures creating and redeeming a code, the two
// writes of every authorization code flow.
func BenchmarkRedeemAuthCode(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for i := 0; b.Loop(); i++ {
		id := "code-" + strconv.Itoa(i)
		if err := s.CreateAuthCode(ctx, storage.AuthCode{ID: id, ClientID: "c", ExpiresAt: exp}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.RedeemAuthCode(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotateRefreshToken measures one rotation of a grant's current
// token.
func BenchmarkRotateRefreshToken(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	now := time.Now()
	g := storage.Grant{ID: "g", ClientID: "c", TokenHash: "rt-0", ExpiresAt: now.Add(time.Hour),
		AbsoluteExpiresAt: now.Add(24 * time.Hour)}
	if err := s.CreateGrant(ctx, g); err != nil {
		b.Fatal(err)
	}
	sealed := make([]byte, 80)
	for i := 0; b.Loop(); i++ {
		_, _, err := s.RotateRefreshToken(ctx, storage.Rotation{
			TokenHash: "rt-" + strconv.Itoa(i), ClientID: "c", NewTokenHash: "rt-" + strconv.Itoa(i+1),
			SuccessorSealed: sealed, Grace: time.Second, IdleTTL: time.Hour,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedeemAuthCodeParallel redeems distinct codes from many
// goroutines: the single writer connection is the bottleneck by design.
func BenchmarkRedeemAuthCodeParallel(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "code-" + strconv.FormatInt(n.Add(1), 10)
			if err := s.CreateAuthCode(ctx, storage.AuthCode{ID: id, ClientID: "c", ExpiresAt: exp}); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.RedeemAuthCode(ctx, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
