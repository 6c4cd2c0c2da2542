package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyerid/foyer/connectors"
)

const testCallback = "http://127.0.0.1:5556/callback/up"

func newConnector(t *testing.T, issuer string, mod func(*Config)) *Connector {
	t.Helper()
	cfg := Config{Issuer: issuer, ClientID: testClientID, ClientSecret: testClientSecret}
	if mod != nil {
		mod(&cfg)
	}
	c, err := Open(cfg, connectors.Env{
		ID: "up", CallbackURL: testCallback, HTTPClient: &http.Client{Timeout: 5 * time.Second},
	}, WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// login runs a whole login through the connector and the provider.
func login(t *testing.T, c *Connector, op *fakeOP, s connectors.Scopes) (connectors.Identity, error) {
	t.Helper()
	ctx := context.Background()
	target, st, err := c.LoginURL(ctx, s, testCallback, "gateway-state")
	if err != nil {
		t.Fatalf("LoginURL: %v", err)
	}
	return c.HandleCallback(ctx, s, st, op.authorize(t, target))
}

func TestLoginMapsClaims(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		claims map[string]any // replaces some of the provider's claims
		mod    func(*Config)
		want   connectors.Identity
	}{{
		name: "defaults",
		want: connectors.Identity{Subject: "u-123", Email: "ada@example.com", EmailVerified: true,
			Name: "Ada Lovelace", Username: "ada", Groups: []string{"admins", "ops"}},
	}, {
		name:   "email not verified upstream",
		claims: map[string]any{"email_verified": false},
		want: connectors.Identity{Subject: "u-123", Email: "ada@example.com", EmailVerified: false,
			Name: "Ada Lovelace", Username: "ada", Groups: []string{"admins", "ops"}},
	}, {
		name:   "email_verified missing",
		claims: map[string]any{"email_verified": nil},
		want: connectors.Identity{Subject: "u-123", Email: "ada@example.com",
			Name: "Ada Lovelace", Username: "ada", Groups: []string{"admins", "ops"}},
	}, {
		name:   "email_verified as a string",
		claims: map[string]any{"email_verified": "true"},
		want: connectors.Identity{Subject: "u-123", Email: "ada@example.com", EmailVerified: true,
			Name: "Ada Lovelace", Username: "ada", Groups: []string{"admins", "ops"}},
	}, {
		name:   "insecureSkipEmailVerified",
		claims: map[string]any{"email_verified": false},
		mod:    func(c *Config) { c.InsecureSkipEmailVerified = true },
		want: connectors.Identity{Subject: "u-123", Email: "ada@example.com", EmailVerified: true,
			Name: "Ada Lovelace", Username: "ada", Groups: []string{"admins", "ops"}},
	}, {
		name:   "no email is never verified",
		claims: map[string]any{"email": nil},
		mod:    func(c *Config) { c.InsecureSkipEmailVerified = true },
		want: connectors.Identity{Subject: "u-123", Name: "Ada Lovelace", Username: "ada",
			Groups: []string{"admins", "ops"}},
	}, {
		name: "custom keys, numeric id, one group as a string",
		claims: map[string]any{
			"uid": json.Number("12345678901234567890"), "login": "lovelace", "mail": "a@l.example",
			"verified": true, "display": "A. L.", "role": "engineer",
		},
		mod: func(c *Config) {
			c.UserIDKey, c.UserNameKey, c.EmailKey = "uid", "login", "mail"
			c.EmailVerifiedKey, c.NameKey, c.GroupsKey = "verified", "display", "role"
		},
		want: connectors.Identity{Subject: "12345678901234567890", Email: "a@l.example", EmailVerified: true,
			Name: "A. L.", Username: "lovelace", Groups: []string{"engineer"}},
	}, {
		name:   "groups with non-strings and duplicates",
		claims: map[string]any{"groups": []any{"a", 7, "a", "", "b"}},
		want: connectors.Identity{Subject: "u-123", Email: "ada@example.com", EmailVerified: true,
			Name: "Ada Lovelace", Username: "ada", Groups: []string{"a", "b"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newOP(t)
			for k, v := range tt.claims {
				if v == nil {
					delete(op.claims, k)
				} else {
					op.claims[k] = v
				}
			}
			op.noRefreshToken = true
			id, err := login(t, newConnector(t, op.issuer(), tt.mod), op, connectors.Scopes{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(id, tt.want) {
				t.Errorf("identity\n got %+v\nwant %+v", id, tt.want)
			}
		})
	}
}

func TestLoginURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		scopes     connectors.Scopes
		supported  []string
		mod        func(*Config)
		wantScope  string
		wantParams map[string]string // "" means absent
	}{{
		name:       "defaults",
		wantScope:  "openid profile email",
		wantParams: map[string]string{"prompt": "", "hd": "", "access_type": "", "redirect_uri": testCallback},
	}, {
		name:       "offline access",
		scopes:     connectors.Scopes{OfflineAccess: true},
		wantScope:  "openid profile email offline_access",
		wantParams: map[string]string{"access_type": "offline"},
	}, {
		name:       "offline access, upstream without the scope (Google)",
		scopes:     connectors.Scopes{OfflineAccess: true},
		supported:  []string{"openid", "email", "profile"},
		wantScope:  "openid profile email",
		wantParams: map[string]string{"access_type": "offline"},
	}, {
		name:      "groups asked, groupsScope set",
		scopes:    connectors.Scopes{Groups: true},
		mod:       func(c *Config) { c.GroupsScope = "groups" },
		wantScope: "openid profile email groups",
	}, {
		name:      "groups asked, no groupsScope",
		scopes:    connectors.Scopes{Groups: true},
		wantScope: "openid profile email",
	}, {
		name:      "groups not asked",
		mod:       func(c *Config) { c.GroupsScope = "groups" },
		wantScope: "openid profile email",
	}, {
		name:      "custom scopes, prompt, one hosted domain, redirect URI",
		scopes:    connectors.Scopes{OfflineAccess: true, Groups: true},
		supported: []string{"openid"},
		mod: func(c *Config) {
			c.Scopes, c.PromptType, c.HostedDomains = []string{"openid", "email"}, "consent select_account", []string{"Example.com"}
			c.RedirectURI, c.GroupsScope = "https://id.example.com/callback/google", "groups"
		},
		wantScope: "openid email groups",
		wantParams: map[string]string{"prompt": "consent select_account", "hd": "example.com",
			"redirect_uri": "https://id.example.com/callback/google"},
	}, {
		name:       "several hosted domains",
		mod:        func(c *Config) { c.HostedDomains = []string{"a.example", "b.example"} },
		wantScope:  "openid profile email",
		wantParams: map[string]string{"hd": "*"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newOP(t)
			if tt.supported != nil {
				op.scopesSupported = tt.supported
			}
			c := newConnector(t, op.issuer(), tt.mod)
			target, st, err := c.LoginURL(context.Background(), tt.scopes, testCallback, "gateway-state")
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(target)
			q := u.Query()
			if got := q.Get("scope"); got != tt.wantScope {
				t.Errorf("scope %q, want %q", got, tt.wantScope)
			}
			if q.Get("state") != "gateway-state" || q.Get("code_challenge_method") != "S256" ||
				len(q.Get("code_challenge")) != 43 || len(q.Get("nonce")) < 43 {
				t.Errorf("state, PKCE or nonce missing: %s", target)
			}
			for k, want := range tt.wantParams {
				if got := q.Get(k); got != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			if strings.Contains(string(st), q.Get("code_challenge")) || !strings.Contains(string(st), q.Get("nonce")) {
				t.Errorf("the connector state should hold the verifier and nonce, not the challenge")
			}
		})
	}
}

// TestLoginURLsDiffer: every login gets its own verifier and nonce.
func TestLoginURLsDiffer(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	c := newConnector(t, op.issuer(), nil)
	_, st1, err1 := c.LoginURL(context.Background(), connectors.Scopes{}, testCallback, "s")
	_, st2, err2 := c.LoginURL(context.Background(), connectors.Scopes{}, testCallback, "s")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var a, b loginState
	_ = json.Unmarshal(st1, &a)
	_ = json.Unmarshal(st2, &b)
	if a.Verifier == b.Verifier || a.Nonce == b.Nonce {
		t.Fatal("two logins share a verifier or a nonce")
	}
}

// TestCallbackRefusesBadIDTokens covers what a real Foyer cannot be made
// to send.
func TestCallbackRefusesBadIDTokens(t *testing.T) {
	t.Parallel()
	_, rogue := testKeys(t)
	tests := []struct {
		name  string
		tweak func(map[string]any)
		sign  func(t *testing.T, c map[string]any) string
		mod   func(*Config)
		ok    bool
	}{
		{name: "control: a good token passes", ok: true},
		{name: "wrong audience", tweak: func(c map[string]any) { c["aud"] = "someone-else" }},
		{name: "audience list without us", tweak: func(c map[string]any) { c["aud"] = []string{"a", "b"} }},
		{name: "several audiences, no azp", tweak: func(c map[string]any) { c["aud"] = []string{testClientID, "b"} }},
		{name: "azp names another client", tweak: func(c map[string]any) { c["azp"] = "b" }},
		{name: "several audiences, azp us", ok: true, tweak: func(c map[string]any) {
			c["aud"], c["azp"] = []string{testClientID, "b"}, testClientID
		}},
		{name: "wrong issuer", tweak: func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{name: "expired", tweak: func(c map[string]any) { c["exp"] = t0.Add(-time.Second).Unix() }},
		{name: "missing exp", tweak: func(c map[string]any) { delete(c, "exp") }},
		{name: "missing nonce", tweak: func(c map[string]any) { delete(c, "nonce") }},
		{name: "wrong nonce", tweak: func(c map[string]any) { c["nonce"] = "another" }},
		{name: "missing sub", tweak: func(c map[string]any) { delete(c, "sub") }},
		{name: "oversize token", tweak: func(c map[string]any) { c["pad"] = strings.Repeat("x", maxIDToken) }},
		{name: "at_hash mismatch", tweak: func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }},
		{name: "bad signature", sign: func(t *testing.T, c map[string]any) string {
			return signJWT(t, jose.RS256, jose.JSONWebKey{Key: rogue, KeyID: testKID}, c)
		}},
		{name: "signature cut", sign: func(t *testing.T, c map[string]any) string {
			key, _ := testKeys(t)
			raw := signJWT(t, jose.RS256, jose.JSONWebKey{Key: key, KeyID: testKID}, c)
			return raw[:len(raw)-8]
		}},
		{name: "alg none", sign: unsignedJWT},
		{name: "HS256 signed with the public key", sign: func(t *testing.T, c map[string]any) string {
			key, _ := testKeys(t)
			return signJWT(t, jose.HS256, jose.JSONWebKey{Key: publicKeyPEM(t, key), KeyID: testKID}, c)
		}},
		{name: "algorithm outside the allowlist", mod: func(c *Config) { c.SigningAlgs = []string{"ES256"} }},
		{name: "unknown key id", sign: func(t *testing.T, c map[string]any) string {
			return signJWT(t, jose.RS256, jose.JSONWebKey{Key: rogue, KeyID: "k2"}, c)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newOP(t)
			op.tweak, op.sign = tt.tweak, tt.sign
			id, err := login(t, newConnector(t, op.issuer(), tt.mod), op, connectors.Scopes{OfflineAccess: true})
			if tt.ok {
				if err != nil || id.Subject != "u-123" {
					t.Fatalf("refused a good token: %v", err)
				}
				return
			}
			var up *connectors.UpstreamError
			if err == nil || errors.As(err, &up) || id.Subject != "" || id.Data != nil {
				t.Fatalf("accepted or misreported: %+v, %v", id, err)
			}
		})
	}
}

func TestCallbackUpstreamAnswers(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	c := newConnector(t, op.issuer(), nil)
	ctx := context.Background()
	_, st, err := c.LoginURL(ctx, connectors.Scopes{}, testCallback, "s")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		method   string
		query    url.Values
		state    []byte
		wantCode string // an UpstreamError with this code; "" means a plain error
	}{
		{name: "access denied", query: url.Values{"error": {"access_denied"}, "error_description": {"The user said no"}}, wantCode: "access_denied"},
		{name: "error with a control character", query: url.Values{"error": {"server_error\n"}}, wantCode: "server_error"},
		{name: "error posted (form_post)", method: http.MethodPost, query: url.Values{"error": {"login_required"}}, wantCode: "login_required"},
		{name: "no code", query: url.Values{"state": {"s"}}},
		{name: "another issuer (mix-up)", query: url.Values{"code": {"c"}, "iss": {"https://evil.example"}}},
		{name: "unknown code", query: url.Values{"code": {"nope"}}, wantCode: "invalid_grant"},
		{name: "no login state", query: url.Values{"code": {"c"}}, state: []byte("garbage")},
		{name: "empty login state", query: url.Values{"code": {"c"}}, state: []byte("{}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *http.Request
			if tt.method == http.MethodPost {
				r = httptest.NewRequest(http.MethodPost, testCallback, strings.NewReader(tt.query.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = httptest.NewRequest(http.MethodGet, testCallback+"?"+tt.query.Encode(), nil)
			}
			state := st
			if tt.state != nil {
				state = tt.state
			}
			_, err := c.HandleCallback(ctx, connectors.Scopes{}, state, r)
			var up *connectors.UpstreamError
			switch {
			case err == nil:
				t.Fatal("no error")
			case tt.wantCode == "" && errors.As(err, &up):
				t.Fatalf("want a plain error, got an upstream error: %v", err)
			case tt.wantCode != "" && (!errors.As(err, &up) || up.Code != tt.wantCode):
				t.Fatalf("want upstream error %s, got %v", tt.wantCode, err)
			}
		})
	}
}

func TestCallbackTokenEndpointFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		upstream bool // an *UpstreamError (an OAuth error answer)
	}{
		{name: "500", status: 500, body: `{"error":"server_error"}`},
		{name: "502 html", status: 502, body: `<html>bad gateway</html>`},
		{name: "invalid_client", status: 401, body: `{"error":"invalid_client"}`, upstream: true},
		{name: "no id_token", status: 200, body: `{"access_token":"at-ok","token_type":"Bearer"}`},
		{name: "oversize response", status: 200, body: `{"access_token":"` + strings.Repeat("a", maxTokenResponse) + `","token_type":"Bearer"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newOP(t)
			op.tokenStatus, op.tokenBody = tt.status, tt.body
			_, err := login(t, newConnector(t, op.issuer(), nil), op, connectors.Scopes{})
			var up *connectors.UpstreamError
			if err == nil || errors.As(err, &up) != tt.upstream {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestHostedDomains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		hd      any
		refused bool
	}{
		{name: "allowed", hd: "example.com"},
		{name: "allowed, other case", hd: "EXAMPLE.com"},
		{name: "second domain", hd: "example.org"},
		{name: "other domain", hd: "evil.example", refused: true},
		{name: "personal account (no hd)", refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newOP(t)
			if tt.hd != nil {
				op.claims["hd"] = tt.hd
			}
			c := newConnector(t, op.issuer(), func(c *Config) { c.HostedDomains = []string{"Example.com", "example.org"} })
			_, err := login(t, c, op, connectors.Scopes{})
			var refusal *connectors.Refusal
			if tt.refused != errors.As(err, &refusal) || (!tt.refused && err != nil) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestUserInfo(t *testing.T) {
	t.Parallel()
	t.Run("claims merged", func(t *testing.T) {
		t.Parallel()
		op := newOP(t)
		delete(op.claims, "groups")
		op.userinfo = map[string]any{"sub": "u-123", "groups": []string{"from-userinfo"}, "name": "Ada King", "iss": "ignored"}
		id, err := login(t, newConnector(t, op.issuer(), func(c *Config) { c.GetUserInfo = true }), op, connectors.Scopes{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(id.Groups, []string{"from-userinfo"}) || id.Name != "Ada King" || id.Subject != "u-123" {
			t.Fatalf("got %+v", id)
		}
	})
	t.Run("another subject", func(t *testing.T) {
		t.Parallel()
		op := newOP(t)
		op.userinfo = map[string]any{"sub": "someone-else"}
		if _, err := login(t, newConnector(t, op.issuer(), func(c *Config) { c.GetUserInfo = true }), op, connectors.Scopes{}); err == nil {
			t.Fatal("accepted userinfo about someone else")
		}
	})
}

func TestTypeRegistration(t *testing.T) {
	t.Parallel()
	if _, ok := Type.NewConfig().(*Config); !ok {
		t.Fatal("NewConfig does not return *Config")
	}
	if _, err := Type.Open(struct{}{}, connectors.Env{}); err == nil {
		t.Fatal("opened with a foreign config")
	}
	if _, err := Type.Open(&Config{ClientID: "x"}, connectors.Env{CallbackURL: testCallback}); err == nil {
		t.Fatal("opened an invalid config")
	}
	impl, err := Type.Open(&Config{Issuer: "https://id.example.com", ClientID: "x", ClientSecret: "y"}, connectors.Env{CallbackURL: testCallback})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := impl.(connectors.RefreshConnector); !ok {
		t.Fatal("not a refresh connector")
	}
}
