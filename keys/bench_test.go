package keys

import (
	"testing"
	"time"
)

type benchClaims struct {
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Aud []string `json:"aud"`
	Exp int64    `json:"exp"`
	Iat int64    `json:"iat"`
}

func benchManager(b *testing.B, alg string) *Manager {
	b.Helper()
	c := newClock()
	m := newManager(b, newMemStore(c), GenerateKEK(), testOptions(c, alg))
	mustInit(b, m)
	return m
}

var claims = benchClaims{Iss: "https://foyer.example", Sub: "u_1234567890", Aud: []string{"app"},
	Exp: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC).Unix(), Iat: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Unix()}

func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{RS256, ES256, EdDSA} {
		b.Run(alg, func(b *testing.B) {
			m := benchManager(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Sign("", "JWT", claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{RS256, ES256, EdDSA} {
		b.Run(alg, func(b *testing.B) {
			m := benchManager(b, alg)
			tok, err := m.Sign("", "JWT", claims)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Verify(tok, "JWT"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJWKS(b *testing.B) {
	m := benchManager(b, ES256)
	m.JWKS()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if body, _ := m.JWKS(); len(body) == 0 {
				b.Fatal("empty")
			}
		}
	})
}
