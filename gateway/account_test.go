package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
)

// fakeUpstream is a callback connector whose upstream "logs in" whichever
// identity the test set last: the browser goes straight back to the
// callback.
type fakeUpstream struct {
	mu   sync.Mutex
	next connectors.Identity
}

func (f *fakeUpstream) set(id connectors.Identity) {
	f.mu.Lock()
	f.next = id
	f.mu.Unlock()
}

func (f *fakeUpstream) LoginURL(_ context.Context, _ connectors.Scopes, callbackURL, state string) (string, []byte, error) {
	return callbackURL + "?" + url.Values{"state": {state}, "code": {"upstream-code"}}.Encode(), nil, nil
}

func (f *fakeUpstream) HandleCallback(_ context.Context, _ connectors.Scopes, _ []byte, r *http.Request) (connectors.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Query().Get("code") != "upstream-code" {
		return connectors.Identity{}, &connectors.UpstreamError{Code: "bad_code"}
	}
	return f.next, nil
}

var _ connectors.CallbackConnector = (*fakeUpstream)(nil)

// withFake adds a fake callback connector.
func withFake(id string, f *fakeUpstream, p identity.Policy) harnessOption {
	return func(o *Options) {
		o.Connectors = append(o.Connectors, Connector{ID: id, Type: "fake", Name: "Fake " + strings.ToUpper(id), Impl: f, Policy: p})
	}
}

// loginVia runs a client login through a connector and returns the ID
// token's subject.
func (h *harness) loginVia(b *http.Client, c rp, connID string) string {
	h.t.Helper()
	params, verifier := authParams(c, url.Values{connectorParam: {connID}, "scope": {"openid email"}})
	q := h.authzResponse(h.follow(b, h.authorizeURL(params)), c.redirect)
	if q.Get("code") == "" {
		h.t.Fatalf("login via %s: %v", connID, q)
	}
	tok := h.mustTokens(h.exchange(c, q.Get("code"), verifier))
	var claims struct{ Sub string }
	decodeJWT(h.t, tok.str("id_token"), &claims)
	return claims.Sub
}

// accountPage fetches /account.
func (h *harness) accountPage(b *http.Client) resp {
	h.t.Helper()
	r := h.do(b, http.MethodGet, h.issuer+"/account", nil)
	if r.Status != http.StatusOK {
		h.t.Fatalf("/account: %d\n%s", r.Status, r.Body)
	}
	return r
}

// accountPost submits an account form with the page's CSRF token.
func (h *harness) accountPost(b *http.Client, path string, fields url.Values) resp {
	h.t.Helper()
	page := h.accountPage(b)
	f := parseForm(h.t, page.Body) // any account form carries the token
	csrf := f.Fields.Get("csrf")
	if csrf == "" {
		h.t.Fatalf("no csrf token on /account:\n%s", page.Body)
	}
	fields.Set("csrf", csrf)
	return h.do(b, http.MethodPost, h.issuer+path, fields)
}

func TestLinkThenLogInThroughEither(t *testing.T) {
	x, y := &fakeUpstream{}, &fakeUpstream{}
	h := newHarness(t, withFake("x", x, identity.Policy{Signup: true}), withFake("y", y, identity.Policy{Signup: false}))
	c := h.addRP("app", false, skipConsent)
	x.set(connectors.Identity{Subject: "x-42", Email: "pat@example.com", EmailVerified: true, Name: "Pat"})
	y.set(connectors.Identity{Subject: "y-7", Email: "pat@corp.example", Name: "Pat at Corp"})

	b := h.browser()
	sub := h.loginVia(b, c, "x") // a new user is created
	page := h.accountPage(b)
	if !strings.Contains(page.Body, "Fake X") || !strings.Contains(page.Body, "Add Fake Y") {
		t.Fatalf("account page lacks the linked X or the Add Y button:\n%s", page.Body)
	}
	if strings.Contains(page.Body, "/account/unlink") {
		t.Error("the only way in must not be removable")
	}
	r := h.followFrom(b, h.accountPost(b, "/account/link", url.Values{"connector": {"y"}}))
	if r.URL.Path != "/account" || r.URL.Query().Get("done") != "linked" {
		t.Fatalf("link ended at %s (%d):\n%s", r.URL, r.Status, r.Body)
	}
	if !strings.Contains(r.Body, "Fake Y") || !strings.Contains(r.Body, "pat@corp.example") {
		t.Fatalf("Y not listed after linking:\n%s", r.Body)
	}

	// Log out, then log in through Y (whose policy would refuse a signup):
	// the same local user.
	h.logoutFromAccount(b)
	b2 := h.browser()
	if got := h.loginVia(b2, c, "y"); got != sub {
		t.Fatalf("login through Y gave sub %q, want %q", got, sub)
	}
	// Now X can be removed (Y remains), and only then.
	r = h.followFrom(b2, h.accountPost(b2, "/account/unlink", url.Values{"connector": {"x"}, "subject": {"x-42"}}))
	if r.URL.Query().Get("done") != "unlinked" {
		t.Fatalf("unlink X: %s %d\n%s", r.URL, r.Status, r.Body)
	}
	r = h.accountPost(b2, "/account/unlink", url.Values{"connector": {"y"}, "subject": {"y-7"}})
	h.wantErrorPage(r, http.StatusConflict)
}

func (h *harness) logoutFromAccount(b *http.Client) {
	h.t.Helper()
	page := h.accountPage(b)
	var f htmlForm
	for _, m := range formRE.FindAllStringSubmatch(page.Body, -1) {
		if strings.Contains(m[1], "/logout") {
			f = parseForm(h.t, m[0])
		}
	}
	f.Fields.Set("confirm", "yes")
	r := h.do(b, http.MethodPost, h.issuer+"/logout", f.Fields)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "logged out") {
		h.t.Fatalf("logout from the account page: %d\n%s", r.Status, r.Body)
	}
}

func TestUnverifiedEmailNeverLinks(t *testing.T) {
	z := &fakeUpstream{}
	h := newHarness(t, withFake("z", z, identity.Policy{Signup: true, LinkByVerifiedEmail: true}))
	alice := h.addUser("alice", testPassword) // alice@example.com, verified
	c := h.addRP("app", false, skipConsent)

	z.set(connectors.Identity{Subject: "z-1", Email: "alice@example.com", EmailVerified: false})
	if got := h.loginVia(h.browser(), c, "z"); got == alice {
		t.Fatal("an unverified upstream email linked to the user who owns that email")
	}
	z.set(connectors.Identity{Subject: "z-2", Email: "Alice@Example.com", EmailVerified: true})
	if got := h.loginVia(h.browser(), c, "z"); got != alice {
		t.Fatalf("a verified email from a trusted connector should link to alice: got %q", got)
	}
}

func TestIdentityOfAnotherUserIsNotLinked(t *testing.T) {
	x := &fakeUpstream{}
	h := newHarness(t, withFake("x", x, identity.Policy{Signup: true}))
	h.addUser("bob", testPassword)
	c := h.addRP("app", false, skipConsent)
	x.set(connectors.Identity{Subject: "x-shared", Email: "a@example.com"})
	subA := h.loginVia(h.browser(), c, "x") // user A owns x-shared

	bb := h.browser()
	h.login(bb, c, "bob", url.Values{"scope": {"openid"}})
	r := h.followFrom(bb, h.accountPost(bb, "/account/link", url.Values{"connector": {"x"}}))
	h.wantErrorPage(r, http.StatusConflict)
	link, err := h.store.Identity(context.Background(), "x", "x-shared")
	if err != nil || link.UserID != subA {
		t.Fatalf("the identity moved: %+v %v", link, err)
	}
}

func TestLinkMustFinishInItsSession(t *testing.T) {
	x, y := &fakeUpstream{}, &fakeUpstream{}
	h := newHarness(t, withFake("x", x, identity.Policy{Signup: true}), withFake("y", y, identity.Policy{Signup: true}))
	c := h.addRP("app", false, skipConsent)
	x.set(connectors.Identity{Subject: "x-1"})
	y.set(connectors.Identity{Subject: "y-1"})
	b := h.browser()
	h.loginVia(b, c, "x")
	start := h.accountPost(b, "/account/link", url.Values{"connector": {"y"}})
	h.logoutFromAccount(b) // the session that started the link ends
	r := h.followFrom(b, start)
	h.wantErrorPage(r, http.StatusForbidden)
	if _, err := h.store.Identity(context.Background(), "y", "y-1"); err == nil {
		t.Fatal("y-1 was linked although its session had ended")
	}
}

func TestSignupDenyAndDisabledUser(t *testing.T) {
	x := &fakeUpstream{}
	h := newHarness(t, withFake("x", x, identity.Policy{Signup: false}))
	c := h.addRP("app", false, skipConsent)
	x.set(connectors.Identity{Subject: "stranger"})
	params, _ := authParams(c, url.Values{connectorParam: {"x"}})
	h.wantErrorPage(h.follow(h.browser(), h.authorizeURL(params)), http.StatusForbidden)

	id := h.addUser("carol", testPassword)
	if err := h.store.UpdateUser(context.Background(), id, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := h.store.LinkIdentity(context.Background(), storage.Identity{ConnectorID: "x", Subject: "carol-x", UserID: id}); err != nil {
		t.Fatal(err)
	}
	x.set(connectors.Identity{Subject: "carol-x"})
	params, _ = authParams(c, url.Values{connectorParam: {"x"}})
	h.wantErrorPage(h.follow(h.browser(), h.authorizeURL(params)), http.StatusForbidden)
}

func TestAccountLoginAndSessions(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", testPassword)
	b1, b2 := h.browser(), h.browser()
	for _, b := range []*http.Client{b1, b2} {
		page := h.accountPage(b)
		if !strings.Contains(page.Body, "/account/login") {
			t.Fatalf("no login link when logged out:\n%s", page.Body)
		}
		r := h.follow(b, h.issuer+"/account/login")
		h.wantKind(r, kindLogin)
		r = h.followFrom(b, h.submitLogin(b, r, "alice", testPassword))
		if r.URL.Path != "/account" || !strings.Contains(r.Body, "alice@example.com") {
			t.Fatalf("account login ended at %s:\n%s", r.URL, r.Body)
		}
	}
	page := h.accountPage(b1)
	if n := strings.Count(page.Body, "/account/sessions/revoke"); n != 2 {
		t.Fatalf("want 2 sessions listed, got %d", n)
	}
	// End the other browser's session from this one.
	var other string
	for _, m := range formRE.FindAllStringSubmatch(page.Body, -1) {
		if strings.Contains(m[1], "/account/sessions/revoke") && !strings.Contains(m[0], "This browser") {
			other = parseForm(t, m[0]).Fields.Get("sid")
		}
	}
	sessions, _ := h.store.SessionsByUser(context.Background(), h.sessionUser(b1))
	mine := storage.HashSecret(h.cookie(b1, sessionCookieName))
	for _, ss := range sessions {
		if ss.ID != mine {
			other = ss.ID
		}
	}
	r := h.followFrom(b1, h.accountPost(b1, "/account/sessions/revoke", url.Values{"sid": {other}}))
	if r.URL.Query().Get("done") != "revoked" {
		t.Fatalf("revoke: %s %d", r.URL, r.Status)
	}
	if page := h.accountPage(b2); !strings.Contains(page.Body, "/account/login") {
		t.Fatal("the revoked browser is still logged in")
	}
	// A forged form (no CSRF token) changes nothing.
	h.wantErrorPage(h.do(b1, http.MethodPost, h.issuer+"/account/sessions/revoke", url.Values{"sid": {mine}}), http.StatusForbidden)
}

func (h *harness) sessionUser(b *http.Client) string {
	h.t.Helper()
	s, err := h.store.Session(context.Background(), storage.HashSecret(h.cookie(b, sessionCookieName)))
	if err != nil {
		h.t.Fatal(err)
	}
	return s.UserID
}
