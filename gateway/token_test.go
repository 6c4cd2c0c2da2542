package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func TestTokenPKCE(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	pub := h.addRP("spa", true, skipConsent)
	conf := h.addRP("web", false, skipConsent)
	otherVerifier, _ := pkcePair()
	tests := []struct {
		name     string
		client   rp
		noPKCE   bool   // the authorization request had no challenge
		verifier string // "=" sends the right one
		wantOK   bool
	}{
		{name: "right verifier", client: pub, verifier: "=", wantOK: true},
		{name: "wrong verifier", client: pub, verifier: otherVerifier},
		{name: "missing verifier", client: pub, verifier: ""},
		{name: "malformed verifier", client: pub, verifier: "short"},
		{name: "too long verifier", client: pub, verifier: strings.Repeat("a", 129)},
		{name: "confidential, right verifier", client: conf, verifier: "=", wantOK: true},
		{name: "confidential, wrong verifier", client: conf, verifier: otherVerifier},
		{name: "confidential without PKCE", client: conf, noPKCE: true, verifier: "", wantOK: true},
		{name: "verifier without challenge", client: conf, noPKCE: true, verifier: otherVerifier},
	}
	b := h.browser()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			var extra url.Values
			if tt.noPKCE {
				extra = noPKCE()
			}
			code, right := h.login(b, tt.client, "alice", extra)
			verifier := tt.verifier
			if verifier == "=" {
				verifier = right
			}
			r := h.exchange(tt.client, code, verifier)
			if tt.wantOK {
				h.mustTokens(r)
				return
			}
			h.wantTokenError(r, http.StatusBadRequest, "invalid_grant")
		})
	}
}

// A code works once; its second use also revokes what the first issued
// (RFC 6749 §4.1.2).
func TestCodeReuseRevokesGrant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	code, verifier := h.login(h.browser(), c, "alice", nil)
	first := h.mustTokens(h.exchange(c, code, verifier))
	if ui := h.userinfo(first.str("access_token")); ui.Status != http.StatusOK {
		t.Fatalf("userinfo before reuse: %d", ui.Status)
	}
	h.wantTokenError(h.exchange(c, code, verifier), http.StatusBadRequest, "invalid_grant")
	h.wantTokenError(h.refresh(c, first.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
	if ui := h.userinfo(first.str("access_token")); ui.Status != http.StatusUnauthorized || ui.errCode() != "invalid_token" {
		t.Errorf("userinfo after reuse: %d %q, want 401 invalid_token", ui.Status, ui.errCode())
	}
}

// A code is bound to its client and redirect URI and expires.
func TestCodeBinding(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent, func(c *storage.Client) {
		c.RedirectURIs = []string{"https://app.rp.example/cb", "https://app.rp.example/cb2"}
	})
	other := h.addRP("other", false, skipConsent)
	b := h.browser()
	tests := []struct {
		name   string
		redeem func(code, verifier string) tokenResp
	}{
		{name: "another client", redeem: func(code, verifier string) tokenResp { return h.exchange(other, code, verifier) }},
		{name: "another registered redirect_uri", redeem: func(code, verifier string) tokenResp {
			c2 := c
			c2.redirect = "https://app.rp.example/cb2"
			return h.exchange(c2, code, verifier)
		}},
		{name: "no redirect_uri", redeem: func(code, verifier string) tokenResp {
			return h.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}, c.ID, c.secret)
		}},
		{name: "expired", redeem: func(code, verifier string) tokenResp {
			h.clock.Advance(DefaultLifetimes.AuthCode + time.Second)
			return h.exchange(c, code, verifier)
		}},
		{name: "unknown", redeem: func(_, verifier string) tokenResp { return h.exchange(c, storage.NewSecret(), verifier) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			code, verifier := h.login(b, c, "alice", nil)
			h.wantTokenError(tt.redeem(code, verifier), http.StatusBadRequest, "invalid_grant")
		})
	}
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	other := h.addRP("other", false, skipConsent)
	b := h.browser()
	start := func(t *testing.T) (*harness, string) {
		h := h.with(t)
		tok := h.tokensFor(b, c, "alice", nil)
		return h, tok.str("refresh_token")
	}

	t.Run("rotates", func(t *testing.T) {
		h, t1 := start(t)
		t2 := h.mustTokens(h.refresh(c, t1, "")).str("refresh_token")
		if t2 == "" || t2 == t1 {
			t.Fatal("refresh did not rotate the token")
		}
		h.mustTokens(h.refresh(c, t2, ""))
	})
	t.Run("reuse after grace revokes the family", func(t *testing.T) {
		h, t1 := start(t)
		r2 := h.mustTokens(h.refresh(c, t1, ""))
		h.clock.Advance(DefaultLifetimes.RefreshReuseGrace + time.Second)
		h.wantTokenError(h.refresh(c, t1, ""), http.StatusBadRequest, "invalid_grant")
		h.wantTokenError(h.refresh(c, r2.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
		if ui := h.userinfo(r2.str("access_token")); ui.Status != http.StatusUnauthorized {
			t.Errorf("userinfo with the family's newest access token: %d, want 401", ui.Status)
		}
	})
	t.Run("retry within grace gets the same successor", func(t *testing.T) {
		h, t1 := start(t)
		t2 := h.mustTokens(h.refresh(c, t1, "")).str("refresh_token")
		h.clock.Advance(DefaultLifetimes.RefreshReuseGrace - time.Second)
		again := h.mustTokens(h.refresh(c, t1, ""))
		if again.str("refresh_token") != t2 {
			t.Fatal("a retry within the grace window got a different successor")
		}
		t3 := h.mustTokens(h.refresh(c, t2, "")).str("refresh_token")
		// t1 is now two rotations old: reuse.
		h.wantTokenError(h.refresh(c, t1, ""), http.StatusBadRequest, "invalid_grant")
		h.wantTokenError(h.refresh(c, t3, ""), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("bound to the client", func(t *testing.T) {
		h, t1 := start(t)
		h.wantTokenError(h.refresh(other, t1, ""), http.StatusBadRequest, "invalid_grant")
		h.mustTokens(h.refresh(c, t1, ""))
	})
	t.Run("scope narrowing", func(t *testing.T) {
		h, t1 := start(t)
		r := h.mustTokens(h.refresh(c, t1, "openid email"))
		if r.str("scope") != "openid email" {
			t.Errorf("scope = %q, want openid email", r.str("scope"))
		}
		var claims map[string]any
		decodeJWT(t, r.str("id_token"), &claims)
		if _, ok := claims["name"]; ok {
			t.Error("narrowed ID token still has name")
		}
		if _, ok := claims["email"]; !ok {
			t.Error("narrowed ID token lacks email")
		}
		ui := h.userinfo(r.str("access_token"))
		if _, ok := ui.JSON["groups"]; ok || ui.Status != http.StatusOK {
			t.Errorf("userinfo with a narrowed token: %d %v", ui.Status, ui.JSON)
		}
		// Narrowing once does not shrink the grant.
		if r := h.mustTokens(h.refresh(c, r.str("refresh_token"), "")); r.str("scope") != defaultScopes {
			t.Errorf("next refresh scope = %q, want %q", r.str("scope"), defaultScopes)
		}
	})
	for _, scope := range []string{"openid email admin", "openid phone"} {
		t.Run("widening "+scope, func(t *testing.T) {
			h := h.with(t)
			tok := h.tokensFor(b, c, "alice", url.Values{"scope": {"openid email offline_access"}})
			h.wantTokenError(h.refresh(c, tok.str("refresh_token"), scope), http.StatusBadRequest, "invalid_scope")
			h.wantTokenError(h.refresh(c, tok.str("refresh_token"), "openid email profile"), http.StatusBadRequest, "invalid_scope")
			h.mustTokens(h.refresh(c, tok.str("refresh_token"), ""))
		})
	}
	t.Run("online grant ends with the session", func(t *testing.T) {
		h := h.with(t)
		nb := h.browser()
		tok := h.tokensFor(nb, c, "alice", url.Values{"scope": {"openid email"}})
		if tok.str("refresh_token") == "" {
			t.Skip("no refresh token without offline_access")
		}
		t2 := h.mustTokens(h.refresh(c, tok.str("refresh_token"), "")).str("refresh_token")
		h.clock.Advance(DefaultLifetimes.SessionIdle + time.Minute)
		h.wantTokenError(h.refresh(c, t2, ""), http.StatusBadRequest, "invalid_grant")
	})
}

// Client authentication at the token endpoint (RFC 6749 §2.3.1). A bogus
// code tells the cases apart: authenticated clients get invalid_grant,
// the rest invalid_client.
func TestClientAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("web", false, skipConsent)
	odd := h.addRP("odd", false, skipConsent)
	oddSecret := "s3:cr/t+%&= é"
	if err := h.store.UpdateClient(context.Background(), odd.ID, func(c *storage.Client) error {
		c.SecretHash = HashClientSecret(oddSecret)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pub := h.addRP("spa", true)
	bogus := func(extra url.Values) url.Values {
		v := url.Values{"grant_type": {"authorization_code"}, "code": {storage.NewSecret()}, "redirect_uri": {c.redirect}}
		for k, vals := range extra {
			v[k] = vals
		}
		return v
	}
	tests := []struct {
		name        string
		form        url.Values
		basicID     string
		basicSecret string
		wantStatus  int
		wantCode    string
	}{
		{name: "basic", basicID: c.ID, basicSecret: c.secret, wantStatus: 400, wantCode: "invalid_grant"},
		{name: "post", form: url.Values{"client_id": {c.ID}, "client_secret": {c.secret}}, wantStatus: 400, wantCode: "invalid_grant"},
		{name: "basic, encoded odd secret", basicID: odd.ID, basicSecret: oddSecret, wantStatus: 400, wantCode: "invalid_grant"},
		{name: "post, odd secret", form: url.Values{"client_id": {odd.ID}, "client_secret": {oddSecret}}, wantStatus: 400, wantCode: "invalid_grant"},
		{name: "basic with matching client_id", form: url.Values{"client_id": {c.ID}}, basicID: c.ID, basicSecret: c.secret, wantStatus: 400, wantCode: "invalid_grant"},
		{name: "public, client_id only", form: url.Values{"client_id": {pub.ID}}, wantStatus: 400, wantCode: "invalid_grant"},
		{name: "basic, wrong secret", basicID: c.ID, basicSecret: "wrong", wantStatus: 401, wantCode: "invalid_client"},
		{name: "post, wrong secret", form: url.Values{"client_id": {c.ID}, "client_secret": {"wrong"}}, wantStatus: 401, wantCode: "invalid_client"},
		{name: "post, another client's secret", form: url.Values{"client_id": {c.ID}, "client_secret": {odd.secret}}, wantStatus: 401, wantCode: "invalid_client"},
		{name: "basic, unknown client", basicID: "nobody", basicSecret: "x", wantStatus: 401, wantCode: "invalid_client"},
		{name: "confidential without a secret", form: url.Values{"client_id": {c.ID}}, wantStatus: 401, wantCode: "invalid_client"},
		{name: "no authentication", wantStatus: 401, wantCode: "invalid_client"},
		{name: "public with a secret", form: url.Values{"client_id": {pub.ID}, "client_secret": {"x"}}, wantStatus: 401, wantCode: "invalid_client"},
		{name: "two methods", form: url.Values{"client_secret": {c.secret}}, basicID: c.ID, basicSecret: c.secret, wantStatus: 400, wantCode: "invalid_request"},
		{name: "basic and another client_id", form: url.Values{"client_id": {odd.ID}}, basicID: c.ID, basicSecret: c.secret, wantStatus: 400, wantCode: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			r := h.tokenRequest(bogus(tt.form), tt.basicID, tt.basicSecret)
			h.wantTokenError(r, tt.wantStatus, tt.wantCode)
			if www := r.Header.Get("WWW-Authenticate"); (tt.wantStatus == http.StatusUnauthorized) != (www != "") {
				t.Errorf("status %d with WWW-Authenticate %q", r.Status, www)
			}
		})
	}

	b := h.browser()
	t.Run("basic exchanges a code", func(t *testing.T) {
		h := h.with(t)
		code, verifier := h.login(b, c, "alice", nil)
		h.mustTokens(h.exchange(c, code, verifier))
	})
	t.Run("post exchanges a code", func(t *testing.T) {
		h := h.with(t)
		code, verifier := h.login(b, c, "alice", nil)
		h.mustTokens(h.tokenRequest(url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
			"redirect_uri": {c.redirect}, "client_id": {c.ID}, "client_secret": {c.secret},
		}, "", ""))
	})
}

func TestTokenEndpointHygiene(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("web", false, skipConsent)

	t.Run("no-store on success", func(t *testing.T) {
		h := h.with(t)
		r := h.tokensFor(h.browser(), c, "alice", nil)
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
			t.Errorf("Cache-Control %q Pragma %q", r.Header.Get("Cache-Control"), r.Header.Get("Pragma"))
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.str("token_type") != "Bearer" {
			t.Errorf("Content-Type %q token_type %q", r.Header.Get("Content-Type"), r.str("token_type"))
		}
	})
	send := func(t *testing.T, method, target, contentType, body string) tokenResp {
		req, err := http.NewRequestWithContext(context.Background(), method, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.SetBasicAuth(c.ID, c.secret)
		return h.with(t).readJSON(req)
	}
	form := "grant_type=refresh_token&refresh_token=x"
	tests := []struct {
		name        string
		target      string
		contentType string
		body        string
		wantCode    string
	}{
		{name: "parameters in the query", target: "/token?refresh_token=x", contentType: "application/x-www-form-urlencoded", body: "grant_type=refresh_token", wantCode: "invalid_request"},
		{name: "duplicate parameter", target: "/token", contentType: "application/x-www-form-urlencoded", body: form + "&refresh_token=y", wantCode: "invalid_request"},
		{name: "JSON body", target: "/token", contentType: "application/json", body: `{"grant_type":"refresh_token"}`, wantCode: "invalid_request"},
		{name: "missing grant_type", target: "/token", contentType: "application/x-www-form-urlencoded", body: "refresh_token=x", wantCode: "invalid_request"},
		{name: "unknown grant_type", target: "/token", contentType: "application/x-www-form-urlencoded", body: "grant_type=implicit", wantCode: "unsupported_grant_type"},
		{name: "grant not allowed for the client", target: "/token", contentType: "application/x-www-form-urlencoded", body: "grant_type=password&username=alice&password=x&scope=openid", wantCode: "unauthorized_client"},
		{name: "missing refresh_token", target: "/token", contentType: "application/x-www-form-urlencoded", body: "grant_type=refresh_token", wantCode: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			h.wantTokenError(send(t, http.MethodPost, h.issuer+tt.target, tt.contentType, tt.body), http.StatusBadRequest, tt.wantCode)
		})
	}
	t.Run("GET", func(t *testing.T) {
		h := h.with(t)
		if r := h.do(http.DefaultClient, http.MethodGet, h.issuer+"/token?"+form, nil); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("GET /token: %d, want 405", r.Status)
		}
	})
}
