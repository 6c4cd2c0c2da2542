package gateway

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

// startLogin starts a flow for c in browser b and returns the login form.
func (h *harness) startLogin(b *http.Client, c rp, extra url.Values) resp {
	h.t.Helper()
	params, _ := authParams(c, extra)
	r := h.follow(b, h.authorizeURL(params))
	h.wantKind(r, kindLogin)
	return r
}

// wantLoginFormAgain checks that a failed login shows the form again with
// status and an error message, and sends nothing to the client.
func (h *harness) wantLoginFormAgain(r resp, status int) {
	h.t.Helper()
	h.wantErrorPage(r, status)
	if !formField(r.Body, "password") {
		h.t.Errorf("status %d page has no login form", r.Status)
	}
	if alertText(r.Body) == "" {
		h.t.Errorf("status %d login form shows no error", r.Status)
	}
}

func setDisabled(t *testing.T, h *harness, userID string, disabled bool) {
	t.Helper()
	if err := h.store.UpdateUser(context.Background(), userID, func(u *storage.User) error {
		u.Disabled = disabled
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A wrong password and an unknown user get the same 401 form and message.
func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	page := h.startLogin(b, c, nil)

	wrong := h.submitLogin(b, page, "alice", "not the password")
	h.wantLoginFormAgain(wrong, http.StatusUnauthorized)
	unknown := h.submitLogin(b, page, "mallory", "not the password")
	h.wantLoginFormAgain(unknown, http.StatusUnauthorized)
	byEmail := h.submitLogin(b, page, "nobody@example.com", testPassword)
	h.wantLoginFormAgain(byEmail, http.StatusUnauthorized)
	if alertText(wrong.Body) != alertText(unknown.Body) || alertText(wrong.Body) != alertText(byEmail.Body) {
		t.Errorf("messages differ: %q, %q, %q", alertText(wrong.Body), alertText(unknown.Body), alertText(byEmail.Body))
	}
	empty := h.submitLogin(b, page, "alice", "")
	h.wantLoginFormAgain(empty, http.StatusBadRequest)

	// The flow survives failures: the form shown after one still works.
	h.authzResponse(h.submitLogin(b, unknown, "alice", testPassword), c.redirect)
}

func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withLocalConnector(t, "staff", "Staff"))
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	params, _ := authParams(c, nil)
	page := h.choose(b, h.follow(b, h.authorizeURL(params)), "local")
	good := parseForm(t, page.Body)
	otherParams, _ := authParams(c, nil)
	otherPage := h.choose(b, h.follow(b, h.authorizeURL(otherParams)), "local")
	staffPage := h.choose(b, h.follow(b, h.authorizeURL(params)), "staff")

	tests := []struct {
		name string
		csrf string
	}{
		{name: "missing", csrf: ""},
		{name: "wrong", csrf: "AAAA" + good.Fields.Get("csrf")[4:]},
		{name: "of another request", csrf: parseForm(t, otherPage.Body).Fields.Get("csrf")},
		{name: "of another connector", csrf: parseForm(t, staffPage.Body).Fields.Get("csrf")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			f := htmlForm{Action: good.Action, Fields: url.Values{
				"req": {good.Fields.Get("req")}, "username": {"alice"}, "password": {testPassword},
			}}
			if tt.csrf != "" {
				f.Fields.Set("csrf", tt.csrf)
			}
			h.wantErrorPage(h.postForm(b, page, f), http.StatusForbidden)
		})
	}
	// None of that used up the request.
	h.authzResponse(h.submitLogin(b, page, "alice", testPassword), c.redirect)
}

// The request id alone is useless in another browser, even one with its
// own flow cookie.
func TestFlowBoundToBrowser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withLocalConnector(t, "staff", "Staff"))
	h.addUser("alice", testPassword)
	c := h.addRP("app", false)
	victim, attacker := h.browser(), h.browser()
	params, _ := authParams(c, nil)
	chooser := h.follow(victim, h.authorizeURL(params))
	page := h.choose(victim, chooser, "local")
	// The attacker has a flow of their own, hence a flow cookie.
	h.follow(attacker, h.authorizeURL(params))
	if h.cookie(attacker, flowCookieName) == "" || h.cookie(attacker, flowCookieName) == h.cookie(victim, flowCookieName) {
		t.Fatal("the second browser should have its own flow cookie")
	}

	t.Run("chooser", func(t *testing.T) {
		h.with(t).wantErrorPage(h.do(attacker, http.MethodGet, chooser.URL.String(), nil), http.StatusBadRequest)
	})
	t.Run("login form", func(t *testing.T) {
		h.with(t).wantErrorPage(h.do(attacker, http.MethodGet, page.URL.String(), nil), http.StatusBadRequest)
	})
	t.Run("login post with the victim's form", func(t *testing.T) {
		h := h.with(t)
		f := parseForm(t, page.Body)
		f.Fields.Set("username", "alice")
		f.Fields.Set("password", testPassword)
		h.wantErrorPage(h.postForm(attacker, page, f), http.StatusBadRequest)
	})
	t.Run("consent with the victim's form", func(t *testing.T) {
		h := h.with(t)
		consent := h.submitLogin(victim, page, "alice", testPassword)
		h.wantKind(consent, kindConsent)
		h.wantErrorPage(h.do(attacker, http.MethodGet, consent.URL.String(), nil), http.StatusBadRequest)
		f := parseForm(t, consent.Body)
		f.Fields.Set("decision", "allow")
		h.wantErrorPage(h.postForm(attacker, consent, f), http.StatusBadRequest)
		// The victim can still finish.
		h.authzResponse(h.submitConsent(victim, consent, "allow"), c.redirect)
	})
}

// An auth request lives 15 minutes; after that every step shows the
// "expired" page, the same one an unknown request id gets.
func TestAuthRequestExpires(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false)
	b := h.browser()
	page := h.startLogin(b, c, nil)
	unknown := h.do(b, http.MethodGet, h.issuer+"/login/local?req="+storage.NewSecret(), nil)
	h.wantErrorPage(unknown, http.StatusBadRequest)

	t.Run("login form", func(t *testing.T) {
		h := h.with(t)
		h.clock.Advance(DefaultLifetimes.AuthRequest + time.Second)
		for _, r := range []resp{h.do(b, http.MethodGet, page.URL.String(), nil), h.submitLogin(b, page, "alice", testPassword)} {
			h.wantErrorPage(r, http.StatusBadRequest)
			if heading(r.Body) != heading(unknown.Body) {
				t.Errorf("%s page %q, want the expired page %q", r.URL.Path, heading(r.Body), heading(unknown.Body))
			}
		}
	})
	t.Run("consent", func(t *testing.T) {
		h := h.with(t)
		consent := h.submitLogin(b, h.startLogin(b, c, nil), "alice", testPassword)
		h.wantKind(consent, kindConsent)
		h.clock.Advance(DefaultLifetimes.AuthRequest + time.Second)
		r := h.submitConsent(b, consent, "allow")
		h.wantErrorPage(r, http.StatusBadRequest)
		if heading(r.Body) != heading(unknown.Body) {
			t.Errorf("consent page %q, want the expired page %q", heading(r.Body), heading(unknown.Body))
		}
	})
}

// The eleventh attempt for one username within the window is refused with
// 429, even with the right password.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	h.addUser("bob", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	page := h.startLogin(b, c, nil)
	for i := range loginAttempts {
		if r := h.submitLogin(b, page, "alice", "guess"); r.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", i+1, r.Status)
		}
	}
	h.wantLoginFormAgain(h.submitLogin(b, page, "alice", testPassword), http.StatusTooManyRequests)
	h.wantLoginFormAgain(h.submitLogin(b, page, "ALICE", testPassword), http.StatusTooManyRequests)
	// Other usernames are not affected.
	h.authzResponse(h.submitLogin(b, page, "bob", testPassword), c.redirect)
	// The next window lets alice in again.
	h.clock.Advance(loginWindow)
	nb := h.browser()
	h.authzResponse(h.submitLogin(nb, h.startLogin(nb, c, nil), "alice", testPassword), c.redirect)
}
