package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// endpointRequest POSTs form to path as client c (basic auth for
// confidential clients, client_id for public ones).
func (h *harness) endpointRequest(path string, c rp, form url.Values) tokenResp {
	h.t.Helper()
	if c.secret == "" {
		form.Set("client_id", c.ID)
	}
	req, err := http.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.secret != "" {
		req.SetBasicAuth(c.ID, c.secret)
	}
	return h.readJSON(req)
}

func TestRevocation(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", testPassword)
	app := h.addRP("app", false, skipConsent)
	other := h.addRP("other", false, skipConsent)
	spa := h.addRP("spa", true, skipConsent)

	t.Run("refresh token revokes the grant", func(t *testing.T) {
		h := h.with(t)
		tok := h.tokensFor(h.browser(), app, "alice", nil)
		if r := h.endpointRequest("/revoke", app, url.Values{"token": {tok.str("refresh_token")}}); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d %v", r.Status, r.JSON)
		}
		h.wantTokenError(h.refresh(app, tok.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
		if r := h.userinfo(tok.str("access_token")); r.Status != http.StatusUnauthorized {
			t.Errorf("userinfo after revocation: %d", r.Status)
		}
	})
	t.Run("access token revokes the grant", func(t *testing.T) {
		h := h.with(t)
		tok := h.tokensFor(h.browser(), app, "alice", nil)
		r := h.endpointRequest("/revoke", app, url.Values{"token": {tok.str("access_token")}, "token_type_hint": {"access_token"}})
		if r.Status != http.StatusOK {
			t.Fatalf("revoke: %d", r.Status)
		}
		h.wantTokenError(h.refresh(app, tok.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("another client's token is left alone", func(t *testing.T) {
		h := h.with(t)
		tok := h.tokensFor(h.browser(), app, "alice", nil)
		if r := h.endpointRequest("/revoke", other, url.Values{"token": {tok.str("refresh_token")}}); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d", r.Status)
		}
		h.mustTokens(h.refresh(app, tok.str("refresh_token"), ""))
	})
	t.Run("unknown tokens are 200", func(t *testing.T) {
		h := h.with(t)
		for _, tok := range []string{"nonsense", "a.b.c", strings.Repeat("x", 9000)} {
			if r := h.endpointRequest("/revoke", app, url.Values{"token": {tok}}); r.Status != http.StatusOK {
				t.Errorf("revoke %q…: %d", tok[:min(len(tok), 10)], r.Status)
			}
		}
	})
	t.Run("public clients revoke their own", func(t *testing.T) {
		h := h.with(t)
		tok := h.tokensFor(h.browser(), spa, "alice", nil)
		if r := h.endpointRequest("/revoke", spa, url.Values{"token": {tok.str("refresh_token")}}); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d", r.Status)
		}
		h.wantTokenError(h.refresh(spa, tok.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("client authentication and parameters", func(t *testing.T) {
		h := h.with(t)
		bad := app
		bad.secret = "wrong"
		if r := h.endpointRequest("/revoke", bad, url.Values{"token": {"x"}}); r.Status != http.StatusUnauthorized || r.errCode() != "invalid_client" {
			t.Errorf("wrong secret: %d %s", r.Status, r.errCode())
		}
		if r := h.endpointRequest("/revoke", app, url.Values{}); r.Status != http.StatusBadRequest || r.errCode() != "invalid_request" {
			t.Errorf("no token: %d %s", r.Status, r.errCode())
		}
	})
}

func TestIntrospection(t *testing.T) {
	h := newHarness(t)
	alice := h.addUser("alice", testPassword)
	app := h.addRP("app", false, skipConsent)
	rs := h.addRP("api", false) // a resource server
	spa := h.addRP("spa", true, skipConsent)
	tok := h.tokensFor(h.browser(), app, "alice", nil)

	active := func(r tokenResp) bool { v, _ := r.JSON["active"].(bool); return v }
	r := h.endpointRequest("/introspect", rs, url.Values{"token": {tok.str("access_token")}})
	if r.Status != http.StatusOK || !active(r) || r.JSON["sub"] != alice || r.JSON["client_id"] != "app" ||
		r.JSON["token_type"] != "Bearer" || !strings.Contains(r.str("scope"), "openid") || r.JSON["username"] != "alice" {
		t.Fatalf("access token: %d %v", r.Status, r.JSON)
	}
	r = h.endpointRequest("/introspect", rs, url.Values{"token": {tok.str("refresh_token")}})
	if !active(r) || r.JSON["token_type"] != "refresh_token" {
		t.Fatalf("refresh token: %v", r.JSON)
	}
	// A rotated refresh token is no longer active; the new one is.
	next := h.mustTokens(h.refresh(app, tok.str("refresh_token"), ""))
	if r := h.endpointRequest("/introspect", rs, url.Values{"token": {tok.str("refresh_token")}}); active(r) {
		t.Error("a rotated refresh token is active")
	}
	if r := h.endpointRequest("/introspect", rs, url.Values{"token": {next.str("refresh_token")}}); !active(r) {
		t.Error("the current refresh token is not active")
	}
	// Revoked, expired, tampered and unknown tokens are inactive, with
	// nothing else said.
	h.endpointRequest("/revoke", app, url.Values{"token": {next.str("refresh_token")}})
	for name, tk := range map[string]string{
		"revoked access": next.str("access_token"), "revoked refresh": next.str("refresh_token"),
		"id token": next.str("id_token"), "garbage": "x.y.z", "unknown": "opaque",
	} {
		r := h.endpointRequest("/introspect", rs, url.Values{"token": {tk}})
		if r.Status != http.StatusOK || active(r) || len(r.JSON) != 1 {
			t.Errorf("%s: %d %v, want exactly {active:false}", name, r.Status, r.JSON)
		}
	}
	fresh := h.tokensFor(h.browser(), app, "alice", nil)
	h.clock.Advance(DefaultLifetimes.AccessToken)
	if r := h.endpointRequest("/introspect", rs, url.Values{"token": {fresh.str("access_token")}}); active(r) {
		t.Error("an expired access token is active")
	}
	// Public clients may not introspect.
	if r := h.endpointRequest("/introspect", spa, url.Values{"token": {fresh.str("refresh_token")}}); r.Status != http.StatusUnauthorized {
		t.Errorf("public client: %d, want 401", r.Status)
	}
}
