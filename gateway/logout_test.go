package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

// logoutReceiver is a client's back-channel logout endpoint.
type logoutReceiver struct {
	mu     sync.Mutex
	tokens []string
	srv    *httptest.Server
}

func newLogoutReceiver(t *testing.T) *logoutReceiver {
	lr := &logoutReceiver{}
	lr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		lr.mu.Lock()
		lr.tokens = append(lr.tokens, r.PostForm.Get("logout_token"))
		lr.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(lr.srv.Close)
	return lr
}

func (lr *logoutReceiver) received() []string {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]string(nil), lr.tokens...)
}

func fastBackchannel(o *Options) { o.BackchannelRetry = 10 * time.Millisecond }

func withBackchannel(uri string) func(*storage.Client) {
	return func(c *storage.Client) { c.BackchannelLogoutURI = uri }
}

func withPostLogout(uri string) func(*storage.Client) {
	return func(c *storage.Client) { c.PostLogoutRedirectURIs = []string{uri} }
}

func TestSelectAccount(t *testing.T) {
	h := newHarness(t)
	alice := h.addUser("alice", testPassword)
	bob := h.addUser("bob", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	h.login(b, c, "alice", nil)

	params, verifier := authParams(c, url.Values{"prompt": {"select_account"}})
	page := h.follow(b, h.authorizeURL(params))
	if page.URL.Path != "/select-account" || !strings.Contains(page.Body, "Continue as alice@example.com") {
		t.Fatalf("want the account chooser, got %s %d:\n%s", page.URL.Path, page.Status, page.Body)
	}
	// Continue as the session's user.
	q := h.authzResponse(h.postForm(b, page, parseForm(t, page.Body)), c.redirect)
	tok := h.mustTokens(h.exchange(c, q.Get("code"), verifier))
	var claims struct{ Sub string }
	decodeJWT(t, tok.str("id_token"), &claims)
	if claims.Sub != alice {
		t.Fatalf("sub %q, want alice %q", claims.Sub, alice)
	}

	// Use another account: the login form, then bob.
	params, verifier = authParams(c, url.Values{"prompt": {"select_account"}})
	page = h.follow(b, h.authorizeURL(params))
	var other string
	for _, l := range links(page.Body) {
		if strings.Contains(l, "/login/") {
			other = l
		}
	}
	if other == "" {
		t.Fatalf("no 'use another account' link:\n%s", page.Body)
	}
	r := h.follow(b, other)
	h.wantKind(r, kindLogin)
	q = h.authzResponse(h.submitLogin(b, r, "bob", testPassword), c.redirect)
	tok = h.mustTokens(h.exchange(c, q.Get("code"), verifier))
	decodeJWT(t, tok.str("id_token"), &claims)
	if claims.Sub != bob {
		t.Fatalf("sub %q, want bob %q", claims.Sub, bob)
	}
}

func TestLogoutTrustedWithBackchannel(t *testing.T) {
	h := newHarness(t, fastBackchannel)
	h.addUser("alice", testPassword)
	lrA, lrB := newLogoutReceiver(t), newLogoutReceiver(t)
	a := h.addRP("a", false, skipConsent, withBackchannel(lrA.srv.URL+"/bc"), withPostLogout("https://a.rp.example/bye"))
	bc := h.addRP("b", false, skipConsent, withBackchannel(lrB.srv.URL+"/bc"))
	other := h.addRP("c", false, skipConsent) // no back channel
	b := h.browser()

	online := url.Values{"scope": {"openid email"}}
	tokA := h.tokensFor(b, a, "alice", online)
	tokB := h.mustTokens(h.exchange(bc, h.silentCode(b, bc), ""))
	h.tokensFor(b, other, "alice", online)
	offline := h.tokensFor(b, a, "alice", url.Values{"scope": {"openid offline_access"}})
	var idA struct{ Sid, Sub string }
	decodeJWT(t, tokA.str("id_token"), &idA)
	if idA.Sid == "" {
		t.Fatal("ID token has no sid")
	}

	q := url.Values{"id_token_hint": {tokA.str("id_token")}, "post_logout_redirect_uri": {"https://a.rp.example/bye"}, "state": {"s1"}}
	r := h.do(b, http.MethodGet, h.issuer+"/logout?"+q.Encode(), nil)
	loc := r.location()
	if r.Status != http.StatusFound || loc == nil || loc.Host != "a.rp.example" || loc.Query().Get("state") != "s1" {
		t.Fatalf("trusted logout: status %d, Location %v", r.Status, loc)
	}
	if h.cookie(b, sessionCookieName) != "" {
		t.Error("the session cookie survived the logout")
	}
	h.gw.Wait()
	for name, lr := range map[string]*logoutReceiver{"a": lrA, "b": lrB} {
		got := lr.received()
		if len(got) != 1 {
			t.Fatalf("client %s received %d logout tokens, want 1", name, len(got))
		}
		payload, err := h.keys.Verify(got[0], typLogoutToken)
		if err != nil {
			t.Fatalf("client %s: logout token does not verify: %v", name, err)
		}
		var lt map[string]any
		if err := json.Unmarshal(payload, &lt); err != nil {
			t.Fatal(err)
		}
		if lt["iss"] != h.issuer || lt["aud"] != name || lt["sub"] != idA.Sub || lt["sid"] != idA.Sid || lt["jti"] == nil {
			t.Errorf("client %s: logout token claims %v", name, lt)
		}
		if _, ok := lt["nonce"]; ok {
			t.Errorf("client %s: a logout token must not carry a nonce", name)
		}
		events, _ := lt["events"].(map[string]any)
		if _, ok := events[backchannelEvent]; !ok {
			t.Errorf("client %s: no back-channel logout event: %v", name, lt["events"])
		}
	}
	// B's next silent request meets no session.
	params, _ := authParams(bc, url.Values{"prompt": {"none"}})
	h.wantAuthzError(h.follow(b, h.authorizeURL(params)), bc.redirect, "login_required", params.Get("state"))
	// Session-bound refresh tokens ended with the session; offline ones live.
	h.wantTokenError(h.refresh(bc, tokB.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
	h.wantTokenError(h.refresh(a, tokA.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
	h.mustTokens(h.refresh(a, offline.str("refresh_token"), ""))
}

// silentCode gets a code with prompt=none from the browser's session and
// no PKCE (the client is confidential and the test passes no verifier).
func (h *harness) silentCode(b *http.Client, c rp) string {
	h.t.Helper()
	params, _ := authParams(c, noPKCE())
	params.Set("prompt", "none")
	params.Set("scope", "openid email")
	q := h.authzResponse(h.follow(b, h.authorizeURL(params)), c.redirect)
	if q.Get("code") == "" {
		h.t.Fatalf("no silent code: %v", q)
	}
	return q.Get("code")
}

func TestLogoutUntrustedAsksFirst(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent, withPostLogout("https://app.rp.example/bye"))
	b := h.browser()
	h.login(b, c, "alice", nil)

	// A bare link (say on a hostile page) only asks.
	page := h.do(b, http.MethodGet, h.issuer+"/logout?client_id=app&post_logout_redirect_uri="+url.QueryEscape("https://app.rp.example/bye"), nil)
	if page.Status != http.StatusOK || !formField(page.Body, "confirm") {
		t.Fatalf("want a confirmation page, got %d:\n%s", page.Status, page.Body)
	}
	params, _ := authParams(c, url.Values{"prompt": {"none"}})
	h.authzResponse(h.follow(b, h.authorizeURL(params)), c.redirect) // still logged in

	// A forged confirmation (no CSRF token) is refused.
	forged := h.do(b, http.MethodPost, h.issuer+"/logout", url.Values{"confirm": {"yes"}})
	h.wantErrorPage(forged, http.StatusForbidden)

	// The real form logs out and returns to the registered address.
	f := parseForm(t, page.Body)
	f.Fields.Set("confirm", "yes") // the button's name and value
	r := h.postForm(b, page, f)
	if loc := r.location(); r.Status != http.StatusSeeOther || loc == nil || loc.Host != "app.rp.example" {
		t.Fatalf("confirmed logout: status %d, Location %v", r.Status, r.location())
	}
	params, _ = authParams(c, url.Values{"prompt": {"none"}})
	h.wantAuthzError(h.follow(b, h.authorizeURL(params)), c.redirect, "login_required", params.Get("state"))
}

func TestLogoutRedirectMustBeRegistered(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent, withPostLogout("https://app.rp.example/bye"))
	b := h.browser()
	tok := h.tokensFor(b, c, "alice", nil)
	for _, uri := range []string{"https://evil.example/bye", "https://app.rp.example/bye/", "https://APP.rp.example/bye", "https://app.rp.example/bye?x=1"} {
		q := url.Values{"id_token_hint": {tok.str("id_token")}, "post_logout_redirect_uri": {uri}}
		r := h.do(b, http.MethodGet, h.issuer+"/logout?"+q.Encode(), nil)
		h.wantErrorPage(r, http.StatusBadRequest)
	}
	// Nothing happened to the session.
	params, _ := authParams(c, url.Values{"prompt": {"none"}})
	h.authzResponse(h.follow(b, h.authorizeURL(params)), c.redirect)
	// A hint for another client than client_id is refused too.
	q := url.Values{"id_token_hint": {tok.str("id_token")}, "client_id": {"someone-else"}}
	h.wantErrorPage(h.do(b, http.MethodGet, h.issuer+"/logout?"+q.Encode(), nil), http.StatusBadRequest)
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	silent := func(b *http.Client) url.Values {
		params, _ := authParams(c, url.Values{"prompt": {"none"}})
		return h.authzResponse(h.follow(b, h.authorizeURL(params)), c.redirect)
	}

	b := h.browser()
	h.login(b, c, "alice", nil)
	h.clock.Advance(DefaultLifetimes.SessionIdle - time.Minute)
	if q := silent(b); q.Get("code") == "" {
		t.Fatalf("session should still be live: %v", q)
	}
	h.clock.Advance(DefaultLifetimes.SessionIdle) // idle since the last use
	if q := silent(b); q.Get("error") != "login_required" {
		t.Fatalf("idle session: got %v, want login_required", q)
	}

	b = h.browser()
	h.login(b, c, "alice", nil)
	for used := time.Duration(0); used < DefaultLifetimes.SessionAbsolute-DefaultLifetimes.SessionIdle; used += DefaultLifetimes.SessionIdle / 2 {
		h.clock.Advance(DefaultLifetimes.SessionIdle / 2)
		if q := silent(b); q.Get("code") == "" {
			t.Fatalf("active session ended early after %v: %v", used, q)
		}
	}
	h.clock.Advance(DefaultLifetimes.SessionIdle)
	if q := silent(b); q.Get("error") != "login_required" {
		t.Fatalf("past the absolute timeout: got %v, want login_required", q)
	}
}
