package gateway

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// alignClock moves the clock to the next whole second, so auth_time (whole
// seconds) equals the login instant.
func (h *harness) alignClock() {
	now := h.clock.Now()
	h.clock.Advance(now.Truncate(time.Second).Add(time.Second).Sub(now))
}

// authorizeOnce sends one authorization request without following
// anything and returns Foyer's immediate answer.
func (h *harness) authorizeOnce(b *http.Client, c rp, extra url.Values) (resp, url.Values) {
	h.t.Helper()
	params, _ := authParams(c, extra)
	return h.do(b, http.MethodGet, h.authorizeURL(params), nil), params
}

// wantSilentCode checks that Foyer answered an authorization request with
// a code straight away, without showing any page.
func (h *harness) wantSilentCode(r resp, params url.Values) {
	h.t.Helper()
	q := h.authzResponse(r, params.Get("redirect_uri"))
	if q.Get("code") == "" || q.Get("state") != params.Get("state") {
		h.t.Fatalf("no silent code: error %q (%s)", q.Get("error"), q.Get("error_description"))
	}
}

func TestPromptNone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	h.addUser("bob", testPassword)
	c := h.addRP("app", false)
	b := h.browser()

	t.Run("no session", func(t *testing.T) {
		h := h.with(t)
		r, p := h.authorizeOnce(h.browser(), c, url.Values{"prompt": {"none"}})
		h.wantAuthzError(r, c.redirect, "login_required", p.Get("state"))
	})
	t.Run("session without consent", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(c, nil)
		h.wantKind(h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword), kindConsent)
		r, p := h.authorizeOnce(b, c, url.Values{"prompt": {"none"}})
		h.wantAuthzError(r, c.redirect, "consent_required", p.Get("state"))
	})
	code, verifier := h.login(b, c, "alice", nil)
	tok := h.mustTokens(h.exchange(c, code, verifier))
	t.Run("session and consent", func(t *testing.T) {
		h := h.with(t)
		h.wantSilentCode(h.authorizeOnce(b, c, url.Values{"prompt": {"none"}}))
	})
	t.Run("id_token_hint of the user", func(t *testing.T) {
		h := h.with(t)
		h.wantSilentCode(h.authorizeOnce(b, c, url.Values{"prompt": {"none"}, "id_token_hint": {tok.str("id_token")}}))
	})
	t.Run("id_token_hint of another user", func(t *testing.T) {
		h := h.with(t)
		other := h.browser()
		bc, bv := h.login(other, c, "bob", nil)
		bobTok := h.mustTokens(h.exchange(c, bc, bv))
		r, p := h.authorizeOnce(b, c, url.Values{"prompt": {"none"}, "id_token_hint": {bobTok.str("id_token")}})
		h.wantAuthzError(r, c.redirect, "login_required", p.Get("state"))
	})
	t.Run("max_age exceeded", func(t *testing.T) {
		h := h.with(t)
		h.clock.Advance(2 * time.Minute)
		r, p := h.authorizeOnce(b, c, url.Values{"prompt": {"none"}, "max_age": {"60"}})
		h.wantAuthzError(r, c.redirect, "login_required", p.Get("state"))
	})
}

// With an SSO session, a second client gets its code without a login form.
func TestSSOSecondClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	first := h.addRP("first", false)
	trusted := h.addRP("trusted", false, skipConsent)
	other := h.addRP("other", true)
	b := h.browser()
	h.login(b, first, "alice", nil)

	t.Run("trusted client: no page at all", func(t *testing.T) {
		h := h.with(t)
		h.wantSilentCode(h.authorizeOnce(b, trusted, nil))
	})
	t.Run("other client: consent but no login", func(t *testing.T) {
		h := h.with(t)
		params, verifier := authParams(other, nil)
		r := h.follow(b, h.authorizeURL(params))
		h.wantKind(r, kindConsent)
		q := h.authzResponse(h.submitConsent(b, r, "allow"), other.redirect)
		h.mustTokens(h.exchange(other, q.Get("code"), verifier))
	})
	t.Run("another browser still has to log in", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(trusted, nil)
		h.wantKind(h.follow(h.browser(), h.authorizeURL(params)), kindLogin)
	})
}

func TestPromptLoginForcesTheForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	h.login(b, c, "alice", nil)
	for _, prompt := range []string{"login"} { // select_account: see TestSelectAccount
		t.Run(prompt, func(t *testing.T) {
			h := h.with(t)
			params, _ := authParams(c, url.Values{"prompt": {prompt}})
			r := h.follow(b, h.authorizeURL(params))
			h.wantKind(r, kindLogin)
			h.authzResponse(h.submitLogin(b, r, "alice", testPassword), c.redirect)
		})
	}
}

// max_age (OIDC Core §3.1.2.1): a session older than max_age seconds
// needs a fresh login; max_age=0 always does.
func TestMaxAge(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	h.alignClock()
	h.login(b, c, "alice", nil)
	loginAt := h.clock.Now()

	tests := []struct {
		name   string
		after  time.Duration // since the login
		maxAge string
		login  bool
	}{
		{name: "zero at once", after: 0, maxAge: "0", login: true},
		{name: "one, two seconds later", after: 2 * time.Second, maxAge: "1", login: true},
		{name: "zero later", after: 5 * time.Second, maxAge: "0", login: true},
		{name: "within", after: 30 * time.Second, maxAge: "60"},
		{name: "exceeded", after: 61 * time.Second, maxAge: "60", login: true},
		{name: "large", after: 61 * time.Second, maxAge: "86400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			h.clock.Advance(loginAt.Add(tt.after).Sub(h.clock.Now()))
			r, params := h.authorizeOnce(b, c, url.Values{"max_age": {tt.maxAge}})
			if !tt.login {
				h.wantSilentCode(r, params)
				return
			}
			h.wantKind(h.followFrom(b, r), kindLogin)
		})
	}

	t.Run("auth_time is the new login", func(t *testing.T) {
		h := h.with(t)
		h.alignClock()
		relogin := h.clock.Now()
		code, verifier := h.login(b, c, "alice", url.Values{"max_age": {"0"}})
		tok := h.mustTokens(h.exchange(c, code, verifier))
		var claims struct {
			AuthTime int64 `json:"auth_time"`
		}
		decodeJWT(t, tok.str("id_token"), &claims)
		if claims.AuthTime != relogin.Unix() {
			t.Errorf("auth_time = %d, want %d", claims.AuthTime, relogin.Unix())
		}
	})
}

func TestConsent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)

	t.Run("deny", func(t *testing.T) {
		h := h.with(t)
		c := h.addRP("denied", false)
		b := h.browser()
		params, _ := authParams(c, nil)
		r := h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword)
		h.wantAuthzError(h.submitConsent(b, r, "deny"), c.redirect, "access_denied", params.Get("state"))
		// The refusal is not remembered as consent.
		params, _ = authParams(c, nil)
		h.wantKind(h.follow(b, h.authorizeURL(params)), kindConsent)
	})
	t.Run("remembered for the next login", func(t *testing.T) {
		h := h.with(t)
		c := h.addRP("remembered", false)
		h.login(h.browser(), c, "alice", url.Values{"scope": {"openid email"}})
		b := h.browser()
		params, _ := authParams(c, url.Values{"scope": {"openid email"}})
		r := h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword)
		h.authzResponse(r, c.redirect)
		if q := r.location().Query(); q.Get("code") == "" {
			t.Fatalf("no code after a login with consent already given: %v", q)
		}
		t.Run("more scopes ask again", func(t *testing.T) {
			h := h.with(t)
			params, _ := authParams(c, url.Values{"scope": {"openid email profile"}})
			h.wantKind(h.follow(b, h.authorizeURL(params)), kindConsent)
		})
		t.Run("prompt=consent asks again", func(t *testing.T) {
			h := h.with(t)
			params, _ := authParams(c, url.Values{"scope": {"openid email"}, "prompt": {"consent"}})
			h.wantKind(h.follow(b, h.authorizeURL(params)), kindConsent)
		})
	})
	t.Run("skipConsent client never sees consent", func(t *testing.T) {
		h := h.with(t)
		c := h.addRP("trusted", false, skipConsent)
		b := h.browser()
		params, _ := authParams(c, nil)
		r := h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword)
		if q := h.authzResponse(r, c.redirect); q.Get("code") == "" {
			t.Fatalf("no code: %v", q)
		}
	})
	t.Run("a consent form answers once", func(t *testing.T) {
		h := h.with(t)
		c := h.addRP("once", false)
		b := h.browser()
		params, _ := authParams(c, nil)
		page := h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword)
		h.authzResponse(h.submitConsent(b, page, "allow"), c.redirect)
		h.wantErrorPage(h.submitConsent(b, page, "allow"), http.StatusBadRequest)
	})
	t.Run("consent step secret is required", func(t *testing.T) {
		h := h.with(t)
		c := h.addRP("secret", false)
		b := h.browser()
		params, _ := authParams(c, nil)
		page := h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword)
		f := parseForm(t, page.Body)
		f.Fields.Set("step", "x"+f.Fields.Get("step")[1:])
		f.Fields.Set("decision", "allow")
		h.wantErrorPage(h.postForm(b, page, f), http.StatusBadRequest)
	})
}

// The SSO session ends after an hour idle, and after 12 hours whatever
// the activity.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)

	t.Run("idle", func(t *testing.T) {
		h := h.with(t)
		b := h.browser()
		h.login(b, c, "alice", nil)
		h.clock.Advance(DefaultLifetimes.SessionIdle - time.Minute)
		h.wantSilentCode(h.authorizeOnce(b, c, url.Values{"prompt": {"none"}}))
		h.clock.Advance(DefaultLifetimes.SessionIdle + time.Minute)
		r, p := h.authorizeOnce(b, c, url.Values{"prompt": {"none"}})
		h.wantAuthzError(r, c.redirect, "login_required", p.Get("state"))
	})
	t.Run("absolute", func(t *testing.T) {
		h := h.with(t)
		b := h.browser()
		h.login(b, c, "alice", nil)
		step := DefaultLifetimes.SessionIdle / 2
		for elapsed := step; elapsed < DefaultLifetimes.SessionAbsolute; elapsed += step {
			h.clock.Advance(step)
			h.wantSilentCode(h.authorizeOnce(b, c, url.Values{"prompt": {"none"}}))
		}
		h.clock.Advance(step)
		r, p := h.authorizeOnce(b, c, url.Values{"prompt": {"none"}})
		h.wantAuthzError(r, c.redirect, "login_required", p.Get("state"))
	})
}
