package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The keys are made once: RSA key generation is slow under -race.
var (
	keysOnce        sync.Once
	opKey, rogueKey *rsa.PrivateKey
)

func testKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if opKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rogueKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return opKey, rogueKey
}

const (
	testClientID     = "foyer"
	testClientSecret = "upstream-secret"
	testKID          = "k1"
)

// t0 is the time of every test: the provider and the connector share it.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// grant is what the provider remembers of an authorization.
type grant struct {
	nonce, challenge, method, redirectURI, scope string
}

// fakeOP is a small hand-written OpenID Provider for the cases a real
// Foyer cannot be made to produce. Its knobs are set before use.
type fakeOP struct {
	t   *testing.T
	srv *httptest.Server

	key *rsa.PrivateKey
	// claims are the user's claims in every ID token.
	claims map[string]any
	// tweak changes an ID token's claims before signing.
	tweak func(map[string]any)
	// sign replaces the signing of ID tokens.
	sign func(t *testing.T, claims map[string]any) string
	// discoveryIssuer, when set, is the issuer discovery announces.
	discoveryIssuer string
	// scopesSupported is announced in discovery.
	scopesSupported []string
	// down makes discovery answer 503.
	down bool
	// tokenStatus and tokenBody, when set, are the token endpoint's answer.
	tokenStatus int
	tokenBody   string
	// noRefreshToken: no refresh token in token answers.
	noRefreshToken bool
	// refreshError is the OAuth error code refresh answers with.
	refreshError string
	// noIDTokenOnRefresh: refresh answers carry no ID token.
	noIDTokenOnRefresh bool
	// userinfo is the userinfo answer.
	userinfo map[string]any

	mu       sync.Mutex
	grants   map[string]grant // by code
	refresh  map[string]bool  // live refresh tokens
	lastForm url.Values       // the last token request
	nextID   int
}

func newOP(t *testing.T) *fakeOP {
	t.Helper()
	key, _ := testKeys(t)
	op := &fakeOP{
		t: t, key: key,
		claims: map[string]any{
			"sub": "u-123", "email": "ada@example.com", "email_verified": true,
			"name": "Ada Lovelace", "preferred_username": "ada", "groups": []any{"admins", "ops"},
		},
		scopesSupported: []string{"openid", "profile", "email", "groups", "offline_access"},
		grants:          map[string]grant{},
		refresh:         map[string]bool{},
	}
	op.srv = httptest.NewServer(http.HandlerFunc(op.serve))
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) issuer() string { return op.srv.URL }

func (op *fakeOP) serve(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		if op.down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		iss := op.issuer()
		if op.discoveryIssuer != "" {
			iss = op.discoveryIssuer
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": iss, "authorization_endpoint": op.issuer() + "/authorize",
			"token_endpoint": op.issuer() + "/token", "jwks_uri": op.issuer() + "/jwks",
			"userinfo_endpoint": op.issuer() + "/userinfo", "scopes_supported": op.scopesSupported,
			"id_token_signing_alg_values_supported": []string{"RS256", "HS256", "none"},
		})
	case "/jwks":
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
			Key: &op.key.PublicKey, KeyID: testKID, Algorithm: "RS256", Use: "sig",
		}}})
	case "/token":
		op.token(w, r)
	case "/userinfo":
		if r.Header.Get("Authorization") != "Bearer at-ok" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
			return
		}
		writeJSON(w, http.StatusOK, op.userinfo)
	default:
		http.NotFound(w, r)
	}
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != testClientID || secret != testClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	op.lastForm = r.PostForm
	if op.tokenStatus != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(op.tokenStatus)
		_, _ = w.Write([]byte(op.tokenBody))
		return
	}
	var nonce string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		g, ok := op.grants[r.PostForm.Get("code")]
		delete(op.grants, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case !ok:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "unknown code"})
			return
		case g.method != "S256" || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "PKCE"})
			return
		case g.redirectURI != r.PostForm.Get("redirect_uri"):
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "redirect_uri"})
			return
		}
		nonce = g.nonce
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if op.refreshError != "" || !op.refresh[rt] {
			code := op.refreshError
			if code == "" {
				code = "invalid_grant"
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": code, "error_description": "refresh refused"})
			return
		}
		delete(op.refresh, rt) // rotation
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	resp := map[string]any{"access_token": "at-ok", "token_type": "Bearer", "expires_in": 300}
	if !(op.noIDTokenOnRefresh && r.PostForm.Get("grant_type") == "refresh_token") {
		resp["id_token"] = op.idToken(nonce)
	}
	if !op.noRefreshToken {
		op.nextID++
		rt := fmt.Sprintf("rt-%d", op.nextID)
		op.refresh[rt] = true
		resp["refresh_token"] = rt
	}
	writeJSON(w, http.StatusOK, resp)
}

func (op *fakeOP) idToken(nonce string) string {
	c := map[string]any{
		"iss": op.issuer(), "aud": testClientID,
		"iat": t0.Unix(), "exp": t0.Add(5 * time.Minute).Unix(),
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	for k, v := range op.claims {
		c[k] = v
	}
	if op.tweak != nil {
		op.tweak(c)
	}
	if op.sign != nil {
		return op.sign(op.t, c)
	}
	return signJWT(op.t, jose.RS256, jose.JSONWebKey{Key: op.key, KeyID: testKID}, c)
}

// authorize plays the upstream's authorization endpoint for a LoginURL:
// it checks the request and returns the callback request the upstream
// would send the browser to.
func (op *fakeOP) authorize(t *testing.T, loginURL string) *http.Request {
	t.Helper()
	u, err := url.Parse(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if !strings.HasPrefix(loginURL, op.issuer()+"/authorize?") || q.Get("client_id") != testClientID || q.Get("response_type") != "code" {
		t.Fatalf("not an authorization request for us: %s", loginURL)
	}
	op.mu.Lock()
	op.nextID++
	code := fmt.Sprintf("code-%d", op.nextID)
	op.grants[code] = grant{
		nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"),
		redirectURI: q.Get("redirect_uri"), scope: q.Get("scope"),
	}
	op.mu.Unlock()
	return httptest.NewRequest(http.MethodGet, q.Get("redirect_uri")+"?"+url.Values{
		"code": {code}, "state": {q.Get("state")}, "iss": {op.issuer()},
	}.Encode(), nil)
}

func signJWT(t *testing.T, alg jose.SignatureAlgorithm, key any, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// unsignedJWT is a token with alg none.
func unsignedJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

// publicKeyPEM is the provider's public key as an attacker would use it
// for an HMAC key.
func publicKeyPEM(t *testing.T, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
