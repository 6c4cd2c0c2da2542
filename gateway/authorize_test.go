package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/foyerid/foyer/storage"
)

// Errors about the client or its redirect URI are pages, never redirects.
func TestAuthorizeUnknownClientIsAPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.addRP("app", false)
	tests := []struct {
		name   string
		params url.Values
	}{
		{name: "unknown client", params: url.Values{"client_id": {"nobody"}}},
		{name: "missing client_id", params: url.Values{"client_id": {""}}},
		{name: "duplicate client_id", params: url.Values{"client_id": {c.ID, c.ID}}},
		{name: "client_id too long", params: url.Values{"client_id": {strings.Repeat("a", 300)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			params, _ := authParams(c, tt.params)
			h.wantErrorPage(h.do(h.browser(), http.MethodGet, h.authorizeURL(params), nil), http.StatusBadRequest)
		})
	}
}

// Redirect URIs match byte for byte (RFC 9700 §4.1.3); anything else is a
// page, and nothing is sent to the unregistered address.
func TestAuthorizeRedirectURIExactMatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.addRP("app", false)
	two := h.addRP("two", false, func(c *storage.Client) {
		c.RedirectURIs = []string{"https://two.rp.example/cb", "https://two.rp.example/other"}
	})
	tests := []struct {
		name     string
		client   rp
		redirect []string
	}{
		{name: "other host", client: c, redirect: []string{"https://evil.example/cb"}},
		{name: "host case", client: c, redirect: []string{"https://APP.rp.example/cb"}},
		{name: "path case", client: c, redirect: []string{"https://app.rp.example/CB"}},
		{name: "scheme case", client: c, redirect: []string{"HTTPS://app.rp.example/cb"}},
		{name: "http instead of https", client: c, redirect: []string{"http://app.rp.example/cb"}},
		{name: "explicit default port", client: c, redirect: []string{"https://app.rp.example:443/cb"}},
		{name: "trailing slash", client: c, redirect: []string{"https://app.rp.example/cb/"}},
		{name: "added query", client: c, redirect: []string{"https://app.rp.example/cb?next=/admin"}},
		{name: "empty query", client: c, redirect: []string{"https://app.rp.example/cb?"}},
		{name: "fragment", client: c, redirect: []string{"https://app.rp.example/cb#frag"}},
		{name: "dot segments", client: c, redirect: []string{"https://app.rp.example/cb/../cb"}},
		{name: "dot segments elsewhere", client: c, redirect: []string{"https://app.rp.example/x/../cb"}},
		{name: "encoded traversal", client: c, redirect: []string{"https://app.rp.example/cb/%2e%2e/evil"}},
		{name: "encoded slash", client: c, redirect: []string{"https://app.rp.example%2Fcb"}},
		{name: "percent-encoded path", client: c, redirect: []string{"https://app.rp.example/%63b"}},
		{name: "userinfo", client: c, redirect: []string{"https://app.rp.example@evil.example/cb"}},
		{name: "suffix", client: c, redirect: []string{"https://app.rp.example/cbx"}},
		{name: "prefix only", client: c, redirect: []string{"https://app.rp.example/"}},
		{name: "duplicate redirect_uri", client: c, redirect: []string{c.redirect, c.redirect}},
		{name: "empty redirect_uri", client: c, redirect: []string{""}},
		{name: "missing with two registered", client: two, redirect: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			params, _ := authParams(tt.client, nil)
			if tt.redirect == nil {
				params.Del("redirect_uri")
			} else {
				params["redirect_uri"] = tt.redirect
			}
			h.wantErrorPage(h.do(h.browser(), http.MethodGet, h.authorizeURL(params), nil), http.StatusBadRequest)
		})
	}

	t.Run("omitted with one registered", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(c, url.Values{"redirect_uri": {""}})
		h.wantKind(h.follow(h.browser(), h.authorizeURL(params)), kindLogin)
	})
	t.Run("registered query is kept", func(t *testing.T) {
		h := h.with(t)
		h.addUser("alice", testPassword)
		q := h.addRP("query", false, skipConsent, func(c *storage.Client) {
			c.RedirectURIs = []string{"https://query.rp.example/cb?tenant=7"}
		})
		params, _ := authParams(q, nil)
		b := h.browser()
		r := h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword)
		loc := r.location()
		if loc == nil || !strings.HasPrefix(loc.String(), "https://query.rp.example/cb?tenant=7&") || loc.Query().Get("code") == "" {
			t.Fatalf("Location %v, want the registered URI with its query and the code", loc)
		}
	})
}

// RFC 8252 §7.3: loopback redirect URIs match any port, for public native
// clients only.
func TestAuthorizeLoopbackRedirect(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	loopback := []string{"http://127.0.0.1/callback", "http://[::1]/callback", "http://127.0.0.1:8080/fixed"}
	native := h.addRP("native", true, func(c *storage.Client) { c.RedirectURIs = loopback })
	server := h.addRP("server", false, func(c *storage.Client) { c.RedirectURIs = loopback })
	tests := []struct {
		name     string
		client   rp
		redirect string
		ok       bool
	}{
		{name: "public, registered as is", client: native, redirect: "http://127.0.0.1/callback", ok: true},
		{name: "public, any port", client: native, redirect: "http://127.0.0.1:53127/callback", ok: true},
		{name: "public, ipv6 any port", client: native, redirect: "http://[::1]:61000/callback", ok: true},
		{name: "public, registered port replaced", client: native, redirect: "http://127.0.0.1:9999/fixed", ok: true},
		{name: "public, other path", client: native, redirect: "http://127.0.0.1:53127/other"},
		{name: "public, trailing slash", client: native, redirect: "http://127.0.0.1:53127/callback/"},
		{name: "public, added query", client: native, redirect: "http://127.0.0.1:53127/callback?x=1"},
		{name: "public, localhost", client: native, redirect: "http://localhost:53127/callback"},
		{name: "public, https", client: native, redirect: "https://127.0.0.1:53127/callback"},
		{name: "public, userinfo trick", client: native, redirect: "http://127.0.0.1:80@evil.example/callback"},
		{name: "public, port too long", client: native, redirect: "http://127.0.0.1:123456/callback"},
		{name: "public, empty port", client: native, redirect: "http://127.0.0.1:/callback"},
		{name: "public, other loopback address", client: native, redirect: "http://127.0.0.2:53127/callback"},
		{name: "confidential, registered as is", client: server, redirect: "http://127.0.0.1/callback", ok: true},
		{name: "confidential, any port", client: server, redirect: "http://127.0.0.1:53127/callback"},
		{name: "confidential, ipv6 any port", client: server, redirect: "http://[::1]:61000/callback"},
		{name: "confidential, registered port replaced", client: server, redirect: "http://127.0.0.1:9999/fixed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			params, _ := authParams(tt.client, url.Values{"redirect_uri": {tt.redirect}})
			r := h.follow(h.browser(), h.authorizeURL(params))
			if tt.ok {
				h.wantKind(r, kindLogin)
				return
			}
			h.wantErrorPage(r, http.StatusBadRequest)
		})
	}

	t.Run("public client completes on another port", func(t *testing.T) {
		h := h.with(t)
		h.addUser("alice", testPassword)
		c := native
		c.redirect = "http://127.0.0.1:49152/callback"
		code, verifier := h.login(h.browser(), c, "alice", nil)
		h.mustTokens(h.exchange(c, code, verifier))
	})
}

// Errors after the client and redirect URI are known go back to the client,
// with the state and iss.
func TestAuthorizeErrorsRedirect(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pub := h.addRP("spa", true)
	conf := h.addRP("web", false)
	cli := h.addRP("cli", false, func(c *storage.Client) { c.GrantTypes = []string{"password"} })
	tests := []struct {
		name      string
		client    rp
		extra     url.Values
		wantCode  string
		wantState string // "" means the request's state
	}{
		{name: "public client without PKCE", client: pub, extra: noPKCE(), wantCode: "invalid_request"},
		{name: "plain PKCE, public", client: pub, extra: url.Values{"code_challenge_method": {"plain"}}, wantCode: "invalid_request"},
		{name: "plain PKCE, confidential", client: conf, extra: url.Values{"code_challenge_method": {"plain"}}, wantCode: "invalid_request"},
		{name: "challenge without method", client: conf, extra: url.Values{"code_challenge_method": {""}}, wantCode: "invalid_request"},
		{name: "method without challenge", client: conf, extra: url.Values{"code_challenge": {""}}, wantCode: "invalid_request"},
		{name: "unknown PKCE method", client: conf, extra: url.Values{"code_challenge_method": {"S512"}}, wantCode: "invalid_request"},
		{name: "short challenge", client: conf, extra: url.Values{"code_challenge": {"abc"}}, wantCode: "invalid_request"},
		{name: "duplicate state", client: conf, extra: url.Values{"state": {"one", "two"}}, wantCode: "invalid_request", wantState: "one"},
		{name: "duplicate scope", client: conf, extra: url.Values{"scope": {"openid", "openid email"}}, wantCode: "invalid_request"},
		{name: "duplicate response_type", client: conf, extra: url.Values{"response_type": {"code", "code"}}, wantCode: "invalid_request"},
		{name: "duplicate nonce", client: conf, extra: url.Values{"nonce": {"a", "b"}}, wantCode: "invalid_request"},
		{name: "duplicate code_challenge", client: pub, extra: url.Values{"code_challenge_method": {"S256", "S256"}}, wantCode: "invalid_request"},
		{name: "missing response_type", client: conf, extra: url.Values{"response_type": {""}}, wantCode: "invalid_request"},
		{name: "response_type token", client: conf, extra: url.Values{"response_type": {"token"}}, wantCode: "unsupported_response_type"},
		{name: "response_type id_token", client: conf, extra: url.Values{"response_type": {"id_token"}}, wantCode: "unsupported_response_type"},
		{name: "hybrid response_type", client: conf, extra: url.Values{"response_type": {"code id_token"}}, wantCode: "unsupported_response_type"},
		{name: "unknown scope", client: conf, extra: url.Values{"scope": {"openid admin"}}, wantCode: "invalid_scope"},
		{name: "missing scope", client: conf, extra: url.Values{"scope": {""}}, wantCode: "invalid_scope"},
		{name: "request object", client: conf, extra: url.Values{"request": {"eyJhbGciOiJub25lIn0.e30."}}, wantCode: "request_not_supported"},
		{name: "request_uri", client: conf, extra: url.Values{"request_uri": {"https://web.rp.example/req"}}, wantCode: "request_uri_not_supported"},
		{name: "registration", client: conf, extra: url.Values{"registration": {"{}"}}, wantCode: "registration_not_supported"},
		{name: "fragment response mode", client: conf, extra: url.Values{"response_mode": {"fragment"}}, wantCode: "invalid_request"},
		{name: "prompt none with login", client: conf, extra: url.Values{"prompt": {"none login"}}, wantCode: "invalid_request"},
		{name: "negative max_age", client: conf, extra: url.Values{"max_age": {"-1"}}, wantCode: "invalid_request"},
		{name: "non-numeric max_age", client: conf, extra: url.Values{"max_age": {"soon"}}, wantCode: "invalid_request"},
		{name: "state too long", client: conf, extra: url.Values{"state": {strings.Repeat("s", 3000)}}, wantCode: "invalid_request", wantState: "-"},
		{name: "unknown connector hint", client: conf, extra: url.Values{"connector_id": {"ldap"}}, wantCode: "invalid_request"},
		{name: "prompt none without a session", client: conf, extra: url.Values{"prompt": {"none"}}, wantCode: "login_required"},
		{name: "client without the code grant", client: cli, wantCode: "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			params, _ := authParams(tt.client, tt.extra)
			want := params.Get("state")
			switch tt.wantState {
			case "-":
				want = ""
			case "":
			default:
				want = tt.wantState
			}
			r := h.do(h.browser(), http.MethodGet, h.authorizeURL(params), nil)
			h.wantAuthzError(r, tt.client.redirect, tt.wantCode, want)
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("authorization response Cache-Control %q", r.Header.Get("Cache-Control"))
			}
		})
	}
}

// State comes back unchanged, byte for byte, on success and on error.
func TestAuthorizeStateRoundTrips(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	state := "a b&c=d/é?%20+x#y"
	t.Run("success", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(c, url.Values{"state": {state}})
		b := h.browser()
		q := h.authzResponse(h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword), c.redirect)
		if q.Get("state") != state || q.Get("code") == "" {
			t.Errorf("state %q code %t", q.Get("state"), q.Get("code") != "")
		}
	})
	t.Run("error", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(c, url.Values{"state": {state}, "scope": {"openid nope"}})
		h.wantAuthzError(h.do(h.browser(), http.MethodGet, h.authorizeURL(params), nil), c.redirect, "invalid_scope", state)
	})
	t.Run("absent", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(c, url.Values{"state": {""}, "scope": {"openid nope"}})
		r := h.do(h.browser(), http.MethodGet, h.authorizeURL(params), nil)
		if q := h.authzResponse(r, c.redirect); q.Has("state") {
			t.Errorf("state %q sent back although none was given", q.Get("state"))
		}
	})
}

// response_mode=form_post renders an auto-submitting form to the redirect
// URI, and the page's CSP lets the form go there.
func TestAuthorizeFormPost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false)
	wantForm := func(t *testing.T, r resp, want map[string]string) {
		t.Helper()
		h := h.with(t)
		h.wantKind(r, kindFormPost)
		f := parseForm(t, r.Body)
		if f.Action != c.redirect {
			t.Errorf("form action %q, want %q", f.Action, c.redirect)
		}
		for k, v := range want {
			if got := f.Fields.Get(k); (v == "*" && got == "") || (v != "*" && got != v) {
				t.Errorf("field %s = %q, want %q", k, got, v)
			}
		}
		if f.Fields.Get("iss") != h.issuer {
			t.Errorf("iss = %q", f.Fields.Get("iss"))
		}
		if !cspAllowsFormAction(r.Header.Get("Content-Security-Policy"), "https://app.rp.example") {
			t.Errorf("CSP %q does not let the form go to the client", r.Header.Get("Content-Security-Policy"))
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
	}
	t.Run("error", func(t *testing.T) {
		params, _ := authParams(c, url.Values{"response_mode": {"form_post"}, "response_type": {"token"}})
		r := h.with(t).do(h.browser(), http.MethodGet, h.authorizeURL(params), nil)
		wantForm(t, r, map[string]string{"error": "unsupported_response_type", "state": params.Get("state")})
	})
	t.Run("code", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(c, url.Values{"response_mode": {"form_post"}})
		b := h.browser()
		r := h.submitConsent(b, h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword), "allow")
		wantForm(t, r, map[string]string{"code": "*", "state": params.Get("state")})
	})
}

// cspAllowsFormAction reports whether the form-action directive of csp
// lists origin.
func cspAllowsFormAction(csp, origin string) bool {
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 && f[0] == "form-action" {
			for _, src := range f[1:] {
				if src == origin {
					return true
				}
			}
		}
	}
	return false
}

// OIDC Core §3.1.2.1 allows the authorization request by POST.
func TestAuthorizeByPost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	params, verifier := authParams(c, nil)
	r := h.followFrom(b, h.do(b, http.MethodPost, h.issuer+"/authorize", params))
	q := h.authzResponse(h.submitLogin(b, r, "alice", testPassword), c.redirect)
	h.mustTokens(h.exchange(c, q.Get("code"), verifier))

	t.Run("error answered with 303", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(c, url.Values{"scope": {"openid", "email"}})
		r := h.do(h.browser(), http.MethodPost, h.issuer+"/authorize", params)
		h.wantAuthzError(r, c.redirect, "invalid_request", params.Get("state"))
		if r.Status != http.StatusSeeOther {
			t.Errorf("status %d, want 303 after a POST", r.Status)
		}
	})
	t.Run("not form-encoded", func(t *testing.T) {
		h := h.with(t)
		req, err := http.NewRequest(http.MethodPost, h.issuer+"/authorize", strings.NewReader(params.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		h.wantErrorPage(h.send(h.browser(), req), http.StatusBadRequest)
	})
}

// OIDC Core §11: offline_access is ignored for a client that may not
// refresh, and such a client gets no refresh token.
func TestOfflineAccessNeedsRefreshGrant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent, func(c *storage.Client) { c.GrantTypes = []string{"authorization_code"} })
	tok := h.tokensFor(h.browser(), c, "alice", nil)
	if tok.str("refresh_token") != "" {
		t.Error("a client without the refresh_token grant got a refresh token")
	}
	if strings.Contains(tok.str("scope"), "offline_access") {
		t.Errorf("scope %q still has offline_access", tok.str("scope"))
	}
	h.wantTokenError(h.refresh(c, storage.NewSecret(), ""), http.StatusBadRequest, "unauthorized_client")
}
