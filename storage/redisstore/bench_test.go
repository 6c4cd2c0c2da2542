package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
)

// benchLogin is a login of the size the gateway stores.
func benchLogin() storage.Login {
	return storage.Login{
		UserID: storage.NewID(),
		Claims: storage.Claims{Email: "alice@example.org", EmailVerified: true, Name: "Alice Liddell",
			Username: "alice", Groups: []string{"staff", "ops"}},
		ConnectorID: "ldap",
		Subject:     "uid=alice,ou=people,dc=example,dc=org",
		AuthTime:    time.Now().Truncate(time.Second),
		AMR:         []string{"pwd"},
		SessionID:   storage.HashSecret(storage.NewSecret()),
	}
}

func BenchmarkRedeemAuthCode(b *testing.B) {
	s := open(b, configFor(b, testenv.RedisURL(b)))
	ctx := b.Context()
	now := time.Now()
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = storage.HashSecret(storage.NewSecret())
		err := s.CreateAuthCode(ctx, storage.AuthCode{ID: ids[i], ClientID: "client-1",
			RedirectURI: "https://client-1.example/cb", Scopes: []string{"openid", "offline_access"},
			Nonce: "n-0S6_WzA2Mj", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
			Login: benchLogin(), GrantID: storage.NewID(), CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.RedeemAuthCode(ctx, ids[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	s := open(b, configFor(b, testenv.RedisURL(b)))
	ctx := b.Context()
	now := time.Now()
	hash := func(i int) string { return storage.HashSecret(fmt.Sprintf("refresh-%d", i)) }
	g := storage.Grant{ID: storage.NewID(), ClientID: "client-1", Scopes: []string{"openid", "offline_access"},
		Login: benchLogin(), Offline: true, CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour),
		AbsoluteExpiresAt: now.Add(90 * 24 * time.Hour), TokenHash: hash(0)}
	if err := s.CreateGrant(ctx, g); err != nil {
		b.Fatal(err)
	}
	sealed := make([]byte, 80)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_, _, err := s.RotateRefreshToken(ctx, storage.Rotation{TokenHash: hash(i), ClientID: "client-1",
			NewTokenHash: hash(i + 1), SuccessorSealed: sealed, Grace: 10 * time.Second, IdleTTL: 30 * 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
	}
}
