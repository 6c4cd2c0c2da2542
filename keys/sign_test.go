package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestSignVerifyPerAlgorithm(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := newManager(t, newMemStore(c), GenerateKEK(), testOptions(c, EdDSA, RS256, ES256))
	mustInit(t, m)
	tests := []struct {
		name, alg, want string
	}{
		{name: "default", alg: "", want: EdDSA},
		{name: "RS256", alg: RS256, want: RS256},
		{name: "ES256", alg: ES256, want: ES256},
		{name: "EdDSA", alg: EdDSA, want: EdDSA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := m.Sign(tt.alg, "at+jwt", map[string]any{"sub": "alice"})
			if err != nil {
				t.Fatal(err)
			}
			h := header(t, tok)
			if h["alg"] != tt.want || h["typ"] != "at+jwt" || h["kid"] == "" || len(h) != 3 {
				t.Fatalf("header %v", h)
			}
			payload, err := m.Verify(tok, "at+jwt")
			if err != nil {
				t.Fatal(err)
			}
			if string(payload) != `{"sub":"alice"}` {
				t.Fatalf("payload %s", payload)
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := newManager(t, newMemStore(c), GenerateKEK(), testOptions(c, ES256))
	if _, err := m.Sign("", "JWT", 1); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Sign before Init = %v", err)
	}
	mustInit(t, m)
	for _, alg := range []string{RS256, "HS256", "none", "es256"} {
		if _, err := m.Sign(alg, "JWT", 1); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Fatalf("Sign(%q) = %v", alg, err)
		}
	}
	if _, err := m.Sign("", "JWT", func() {}); err == nil {
		t.Fatal("Sign of an unmarshalable value succeeded")
	}
	tok, err := m.Sign("", "", json.RawMessage(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := header(t, tok)["typ"]; ok {
		t.Fatal("typ set though none was asked")
	}
	if p, err := m.Verify(tok, ""); err != nil || string(p) != `{"a":1}` {
		t.Fatalf("Verify = %s, %v", p, err)
	}
}

func TestSignerCache(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := newManager(t, newMemStore(c), GenerateKEK(), testOptions(c, ES256))
	mustInit(t, m)
	for range 3 {
		mustSign(t, m, "", "JWT")
		mustSign(t, m, "", "logout+jwt")
	}
	mat := m.state.Load().active(ES256, c.Now()).mat
	if n := mat.nsigners.Load(); n != 2 {
		t.Fatalf("%d cached signers, want 2", n)
	}
	s1, _ := mat.signer("JWT")
	s2, _ := mat.signer("JWT")
	if s1 != s2 {
		t.Fatal("signer rebuilt")
	}
	for i := range 3 * maxSignersPerKey {
		typ := "t" + strings.Repeat("x", i)
		tok := mustSign(t, m, "", typ)
		if _, err := m.Verify(tok, typ); err != nil {
			t.Fatal(err)
		}
	}
	if n := mat.nsigners.Load(); n != maxSignersPerKey {
		t.Fatalf("%d cached signers, want the cap %d", n, maxSignersPerKey)
	}
}

// craft builds a compact JWS from a header, a payload and a signing function.
func craft(h map[string]any, payload string, sign func(input []byte) []byte) string {
	hb, _ := json.Marshal(h)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	m := newManager(t, store, GenerateKEK(), testOptions(c, ES256, RS256))
	mustInit(t, m)
	good := mustSign(t, m, ES256, "JWT")
	kid := kidOf(t, good)
	rec, _ := storedKey(t, store, kid)
	parts := strings.Split(good, ".")

	// A token signed by a key Foyer never published.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	strangerSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256,
		Key: jose.JSONWebKey{Key: stranger, KeyID: "nope"}}, (&jose.SignerOptions{}).WithType("JWT"))
	js, _ := strangerSigner.Sign([]byte(`{"sub":"mallory"}`))
	unknown, _ := js.CompactSerialize()
	// The same stranger key, claiming our kid.
	forgerSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256,
		Key: jose.JSONWebKey{Key: stranger, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	js, _ = forgerSigner.Sign([]byte(`{"sub":"mallory"}`))
	forged, _ := js.CompactSerialize()
	// RS256 header on our ES256 kid, validly signed by an RSA key.
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256,
		Key: jose.JSONWebKey{Key: rsaKey, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	js, _ = rsSigner.Sign([]byte(`{"sub":"mallory"}`))
	algSwap, _ := js.CompactSerialize()
	// HS256 keyed with the public JWK, the classic confusion.
	hs := craft(map[string]any{"alg": "HS256", "kid": kid, "typ": "JWT"}, `{"sub":"mallory"}`, func(in []byte) []byte {
		mac := hmac.New(sha256.New, rec.Public)
		mac.Write(in)
		return mac.Sum(nil)
	})
	// A critical header we do not understand, validly signed.
	critSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256,
		Key: jose.JSONWebKey{Key: m.state.Load().byID[kid].mat.private, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("exp", 1).WithCritical("exp"))
	js, _ = critSigner.Sign([]byte(`{"sub":"alice"}`))
	crit, _ := js.CompactSerialize()

	tests := []struct {
		name, token, typ string
	}{
		{name: "alg none", token: craft(map[string]any{"alg": "none", "kid": kid}, `{"sub":"mallory"}`, nil)},
		{name: "alg none with good signature", token: craft(map[string]any{"alg": "none", "kid": kid}, `{"sub":"alice"}`, nil) + parts[2]},
		{name: "HS256", token: hs},
		{name: "unknown kid", token: unknown},
		{name: "no kid", token: craft(map[string]any{"alg": "ES256"}, `{}`, func([]byte) []byte { return []byte("x") })},
		{name: "forged with our kid", token: forged},
		{name: "alg swapped to RS256", token: algSwap},
		{name: "tampered payload", token: parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory","n":1}`)) + "." + parts[2]},
		{name: "tampered header", token: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`)) + "." + parts[1] + "." + parts[2]},
		{name: "tampered signature", token: parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))},
		{name: "wrong typ", token: good, typ: "at+jwt"},
		{name: "missing typ", token: mustSign(t, m, ES256, ""), typ: "JWT"},
		{name: "crit header", token: crit},
		{name: "two parts", token: parts[0] + "." + parts[1]},
		{name: "four parts", token: good + ".x"},
		{name: "JSON serialization", token: `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`},
		{name: "empty", token: ""},
		{name: "garbage", token: "a.b.c"},
		{name: "too large", token: parts[0] + "." + strings.Repeat("A", maxTokenSize) + "." + parts[2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := m.Verify(tt.token, tt.typ)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %q, %v; want ErrInvalidToken", p, err)
			}
			if p != nil {
				t.Fatal("payload returned with an error")
			}
		})
	}
	if _, err := m.Verify(crit, ""); err == nil {
		t.Fatal("crit accepted")
	}
	if _, err := m.Verify(good, "JWT"); err != nil {
		t.Fatalf("the good token: %v", err)
	}
}

func TestVerifyRemovedKey(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	m := newManager(t, store, GenerateKEK(), testOptions(c, ES256))
	mustInit(t, m)
	old := mustSign(t, m, "", "JWT")
	if err := m.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec, _ := storedKey(t, store, kidOf(t, old))
	c.Set(rec.RemoveAt.Add(-time.Second))
	if _, err := m.Verify(old, "JWT"); err != nil {
		t.Fatalf("before RemoveAt: %v", err)
	}
	c.Set(rec.RemoveAt)
	if _, err := m.Verify(old, "JWT"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("at RemoveAt: %v", err)
	}
	// A worker that loads the set after RemoveAt never even unseals it.
	m2 := newManager(t, store, m.kek, testOptions(c, ES256))
	mustInit(t, m2)
	if _, err := m2.Verify(old, "JWT"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("fresh worker: %v", err)
	}
	if m2.cache[kidOf(t, old)] != nil {
		t.Fatal("removed key unsealed")
	}
}

func TestVerifyTyp(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := newManager(t, newMemStore(c), GenerateKEK(), testOptions(c, ES256))
	mustInit(t, m)
	tests := []struct {
		name, signed, want string
		ok                 bool
	}{
		{name: "same", signed: "at+jwt", want: "at+jwt", ok: true},
		{name: "case", signed: "at+jwt", want: "AT+JWT", ok: true},
		{name: "prefix on token", signed: "application/at+jwt", want: "at+jwt", ok: true},
		{name: "prefix on want", signed: "logout+jwt", want: "Application/logout+jwt", ok: true},
		{name: "any", signed: "JWT", want: "", ok: true},
		{name: "other", signed: "JWT", want: "at+jwt"},
		{name: "logout is not an access token", signed: "logout+jwt", want: "at+jwt"},
		{name: "other prefix", signed: "text/at+jwt", want: "at+jwt"},
		{name: "absent", signed: "", want: "JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := mustSign(t, m, "", tt.signed)
			_, err := m.Verify(tok, tt.want)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
