package gateway

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/foyerid/foyer/storage"
)

// A client's allowedConnectors hold on every path: the chooser, the login
// URL, the connector hint, the SSO session, code exchange and refresh.
func TestAllowedConnectors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withLocalConnector(t, "staff", "Staff"))
	h.addUser("alice", testPassword)
	restricted := h.addRP("restricted", false, skipConsent, func(c *storage.Client) { c.AllowedConnectors = []string{"local"} })
	open := h.addRP("open", false, skipConsent)

	t.Run("only the allowed connector is offered", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(restricted, nil)
		r := h.follow(h.browser(), h.authorizeURL(params))
		h.wantKind(r, kindLogin)
		if r.URL.Path != "/login/local" {
			t.Errorf("login at %s, want /login/local", r.URL.Path)
		}
	})
	t.Run("login at another connector", func(t *testing.T) {
		h := h.with(t)
		b := h.browser()
		page := h.startLogin(b, restricted, nil)
		staff := *page.URL
		staff.Path = "/login/staff"
		h.wantErrorPage(h.do(b, http.MethodGet, staff.String(), nil), http.StatusNotFound)
		f := parseForm(t, page.Body)
		f.Action = "/login/staff"
		f.Fields.Set("username", "alice")
		f.Fields.Set("password", testPassword)
		f.Fields.Set("csrf", h.gw.mac(stepLogin, f.Fields.Get("req"), h.cookie(b, flowCookieName), "staff"))
		h.wantErrorPage(h.postForm(b, page, f), http.StatusNotFound)
	})
	t.Run("connector hint", func(t *testing.T) {
		h := h.with(t)
		r, p := h.authorizeOnce(h.browser(), restricted, url.Values{"connector_id": {"staff"}})
		h.wantAuthzError(r, restricted.redirect, "invalid_request", p.Get("state"))
	})
	t.Run("SSO session from another connector", func(t *testing.T) {
		h := h.with(t)
		b := h.browser()
		params, _ := authParams(open, url.Values{"connector_id": {"staff"}})
		r := h.follow(b, h.authorizeURL(params))
		if r.URL.Path != "/login/staff" {
			t.Fatalf("connector hint led to %s", r.URL.Path)
		}
		h.authzResponse(h.submitLogin(b, r, "alice", testPassword), open.redirect)
		h.wantSilentCode(h.authorizeOnce(b, open, nil))
		params, _ = authParams(restricted, nil)
		h.wantKind(h.follow(b, h.authorizeURL(params)), kindLogin)
		r, p := h.authorizeOnce(b, restricted, url.Values{"prompt": {"none"}})
		h.wantAuthzError(r, restricted.redirect, "login_required", p.Get("state"))
	})
	t.Run("code and refresh after the client is restricted", func(t *testing.T) {
		h := h.with(t)
		c := h.addRP("later", false, skipConsent)
		b := h.browser()
		params, verifier := authParams(c, url.Values{"connector_id": {"staff"}})
		r := h.submitLogin(b, h.follow(b, h.authorizeURL(params)), "alice", testPassword)
		tok := h.mustTokens(h.exchange(c, h.authzResponse(r, c.redirect).Get("code"), verifier))
		params, verifier = authParams(c, url.Values{"connector_id": {"staff"}})
		pending := h.authzResponse(h.follow(b, h.authorizeURL(params)), c.redirect).Get("code")
		if err := h.store.UpdateClient(context.Background(), c.ID, func(c *storage.Client) error {
			c.AllowedConnectors = []string{"local"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		h.wantTokenError(h.refresh(c, tok.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
		h.wantTokenError(h.exchange(c, pending, verifier), http.StatusBadRequest, "invalid_grant")
	})
}

// A disabled user can neither log in nor keep using what they were given.
func TestDisabledUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.addRP("app", false, skipConsent)

	t.Run("cannot log in", func(t *testing.T) {
		h := h.with(t)
		id := h.addUser("carol", testPassword)
		setDisabled(t, h, id, true)
		b := h.browser()
		h.wantLoginFormAgain(h.submitLogin(b, h.startLogin(b, c, nil), "carol", testPassword), http.StatusForbidden)
	})
	t.Run("loses session, code, refresh and access", func(t *testing.T) {
		h := h.with(t)
		id := h.addUser("dave", testPassword)
		b := h.browser()
		tok := h.tokensFor(b, c, "dave", nil)
		code, verifier := h.login(b, c, "dave", nil)
		setDisabled(t, h, id, true)
		h.wantTokenError(h.refresh(c, tok.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
		h.wantTokenError(h.exchange(c, code, verifier), http.StatusBadRequest, "invalid_grant")
		if ui := h.userinfo(tok.str("access_token")); ui.Status != http.StatusUnauthorized || ui.errCode() != "invalid_token" {
			t.Errorf("userinfo: %d %q, want 401 invalid_token", ui.Status, ui.errCode())
		}
		r, p := h.authorizeOnce(b, c, url.Values{"prompt": {"none"}})
		h.wantAuthzError(r, c.redirect, "login_required", p.Get("state"))
		params, _ := authParams(c, nil)
		h.wantKind(h.follow(b, h.authorizeURL(params)), kindLogin)
	})
}
