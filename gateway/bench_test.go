package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/local"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/keys"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// benchEnv is a gateway served through httptest.NewRecorder (no network),
// with a fixed clock, a memory store, one user and one confidential
// client.
type benchEnv struct {
	gw       http.Handler
	store    *memory.Store
	now      time.Time
	userID   string
	client   storage.Client
	secret   string
	redirect string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	st := memory.New(memory.WithClock(clock))
	logger := slog.New(slog.DiscardHandler)
	km, err := keys.NewManager(st, keys.GenerateKEK(), keys.Options{Algorithms: []string{"RS256"}, TokenLifetime: time.Hour, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	if err := km.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	lc, err := local.Open(local.Config{}, connectors.Env{ID: "local", Users: st, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	gw, err := New(Options{
		Issuer: "https://foyer.test", Directory: st, State: st, Keys: km,
		Connectors: []Connector{{ID: "local", Type: "local", Name: "Email", Impl: lc}},
		Linker:     identity.NewLinker(st, clock, logger),
		FlowKey:    []byte(strings.Repeat("k", 32)),
		Logger:     logger, Clock: clock,
	})
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{gw: gw.Handler(), store: st, now: now, secret: "bench-secret", redirect: "https://bench.rp.example/cb"}
	u := storage.User{ID: storage.NewID(), Username: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice", Groups: []string{"admins"}, CreatedAt: now}
	if err := st.CreateUser(context.Background(), u); err != nil {
		b.Fatal(err)
	}
	e.userID = u.ID
	e.client = storage.Client{ID: "bench", SecretHash: HashClientSecret(e.secret), RedirectURIs: []string{e.redirect}}
	if err := st.CreateClient(context.Background(), e.client); err != nil {
		b.Fatal(err)
	}
	return e
}

func (e *benchEnv) login() storage.Login {
	return storage.Login{
		UserID: e.userID, ConnectorID: "local", Subject: e.userID, AuthTime: e.now, AMR: []string{"pwd"},
		Claims: storage.Claims{Email: "alice@example.com", EmailVerified: true, Name: "Alice", Username: "alice", Groups: []string{"admins"}},
	}
}

func (e *benchEnv) get(b *testing.B, path string) {
	rec := httptest.NewRecorder()
	e.gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://foyer.test"+path, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d", path, rec.Code)
	}
}

// token posts form to /token with Basic client authentication and returns
// the decoded answer.
func (e *benchEnv) token(b *testing.B, form url.Values) tokenResponse {
	req := httptest.NewRequest(http.MethodPost, "https://foyer.test/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.client.ID, e.secret)
	rec := httptest.NewRecorder()
	e.gw.ServeHTTP(rec, req)
	var out tokenResponse
	if rec.Code != http.StatusOK {
		b.Fatalf("token: %d %s", rec.Code, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		b.Fatal(err)
	}
	return out
}

func BenchmarkDiscovery(b *testing.B) {
	e := newBenchEnv(b)
	b.ReportAllocs()
	for b.Loop() {
		e.get(b, "/.well-known/openid-configuration")
	}
}

func BenchmarkJWKS(b *testing.B) {
	e := newBenchEnv(b)
	b.ReportAllocs()
	for b.Loop() {
		e.get(b, "/jwks")
	}
}

// BenchmarkTokenCode measures the authorization_code exchange (client
// authentication, redemption, PKCE, grant, two signatures).
func BenchmarkTokenCode(b *testing.B) {
	e := newBenchEnv(b)
	verifier, challenge := pkcePair()
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = storage.NewSecret()
		if err := e.store.CreateAuthCode(context.Background(), storage.AuthCode{
			ID: storage.HashSecret(codes[i]), ClientID: e.client.ID, RedirectURI: e.redirect,
			Scopes: strings.Fields(defaultScopes), Nonce: "n", CodeChallenge: challenge, CodeChallengeMethod: "S256",
			Login: e.login(), GrantID: storage.NewID(), CreatedAt: e.now, ExpiresAt: e.now.Add(time.Minute),
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.token(b, url.Values{
			"grant_type": {"authorization_code"}, "code": {codes[i]},
			"redirect_uri": {e.redirect}, "code_verifier": {verifier},
		})
	}
}

// BenchmarkTokenRefresh measures a refresh-token rotation, each iteration
// presenting the successor the previous one returned.
func BenchmarkTokenRefresh(b *testing.B) {
	e := newBenchEnv(b)
	current := storage.NewSecret()
	if err := e.store.CreateGrant(context.Background(), storage.Grant{
		ID: storage.NewID(), ClientID: e.client.ID, Scopes: strings.Fields(defaultScopes), Login: e.login(),
		Offline: true, CreatedAt: e.now, ExpiresAt: e.now.Add(time.Hour), AbsoluteExpiresAt: e.now.Add(24 * time.Hour),
		TokenHash: storage.HashSecret(current),
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		current = e.token(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}}).RefreshToken
	}
}
