package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// reencode replaces a JWT's payload, keeping its header and signature.
func reencode(t *testing.T, token string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	var claims map[string]any
	decodeJWT(t, token, &claims)
	edit(claims)
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestUserinfo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	alice := h.addUser("alice", testPassword, "admins")
	bob := h.addUser("bob", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	tok := h.tokensFor(b, c, "alice", nil)
	access := tok.str("access_token")
	bobTok := h.tokensFor(h.browser(), c, "bob", nil)

	call := func(t *testing.T, method, target string, header string, form url.Values) tokenResp {
		t.Helper()
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, err := http.NewRequestWithContext(context.Background(), method, h.issuer+target, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		return h.with(t).readJSON(req)
	}
	ok := func(t *testing.T, r tokenResp) {
		t.Helper()
		if r.Status != http.StatusOK || r.str("sub") != alice || r.str("email") != "alice@example.com" {
			t.Fatalf("userinfo: %d %v", r.Status, r.JSON)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
	}
	t.Run("bearer header, GET", func(t *testing.T) { ok(t, call(t, http.MethodGet, "/userinfo", "Bearer "+access, nil)) })
	t.Run("bearer header, POST", func(t *testing.T) { ok(t, call(t, http.MethodPost, "/userinfo", "Bearer "+access, nil)) })
	t.Run("form body", func(t *testing.T) {
		ok(t, call(t, http.MethodPost, "/userinfo", "", url.Values{"access_token": {access}}))
	})
	t.Run("query is not read", func(t *testing.T) {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := call(t, method, "/userinfo?access_token="+url.QueryEscape(access), "", nil)
			if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" || r.str("sub") != "" {
				t.Errorf("%s with the token in the query: %d %q %v", method, r.Status, r.Header.Get("WWW-Authenticate"), r.JSON)
			}
		}
	})
	t.Run("two ways at once", func(t *testing.T) {
		r := call(t, http.MethodPost, "/userinfo", "Bearer "+access, url.Values{"access_token": {access}})
		if r.Status != http.StatusBadRequest || r.errCode() != "invalid_request" {
			t.Errorf("%d %q, want 400 invalid_request", r.Status, r.errCode())
		}
	})
	t.Run("other scheme", func(t *testing.T) {
		r := call(t, http.MethodGet, "/userinfo", "Basic "+access, nil)
		if r.Status != http.StatusBadRequest || r.errCode() != "invalid_request" {
			t.Errorf("%d %q, want 400 invalid_request", r.Status, r.errCode())
		}
	})

	parts := strings.Split(access, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)/2] == 'A' {
			b[len(b)/2] = 'B'
		} else {
			b[len(b)/2] = 'A'
		}
		return string(b)
	}
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`))
	tampered := []struct {
		name  string
		token string
	}{
		{name: "signature changed", token: parts[0] + "." + parts[1] + "." + flip(parts[2])},
		{name: "subject changed", token: reencode(t, access, func(c map[string]any) { c["sub"] = bob })},
		{name: "expiry extended", token: reencode(t, access, func(c map[string]any) { c["exp"] = 4102444800 })},
		{name: "scope widened", token: reencode(t, bobTok.str("access_token"), func(c map[string]any) { c["scope"] = "openid email admin" })},
		{name: "alg none", token: noneHeader + "." + parts[1] + "."},
		{name: "signature dropped", token: parts[0] + "." + parts[1] + "."},
		{name: "truncated", token: access[:len(access)-10]},
		{name: "ID token as access token", token: tok.str("id_token")},
		{name: "garbage", token: "not-a-token"},
		{name: "huge", token: strings.Repeat("a", 9000)},
	}
	for _, tt := range tampered {
		t.Run("tampered: "+tt.name, func(t *testing.T) {
			r := call(t, http.MethodGet, "/userinfo", "Bearer "+tt.token, nil)
			if r.Status != http.StatusUnauthorized || r.errCode() != "invalid_token" {
				t.Errorf("%d %q, want 401 invalid_token", r.Status, r.errCode())
			}
			if www := r.Header.Get("WWW-Authenticate"); !strings.Contains(www, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", www)
			}
		})
	}

	t.Run("without the openid scope", func(t *testing.T) {
		h := h.with(t)
		r := h.mustTokens(h.refresh(c, tok.str("refresh_token"), "email offline_access"))
		ui := call(t, http.MethodGet, "/userinfo", "Bearer "+r.str("access_token"), nil)
		if ui.Status != http.StatusForbidden || ui.errCode() != "insufficient_scope" {
			t.Errorf("%d %q, want 403 insufficient_scope", ui.Status, ui.errCode())
		}
	})
	t.Run("expired", func(t *testing.T) {
		h := h.with(t)
		h.clock.Advance(DefaultLifetimes.AccessToken + time.Second)
		r := call(t, http.MethodGet, "/userinfo", "Bearer "+access, nil)
		if r.Status != http.StatusUnauthorized || r.errCode() != "invalid_token" {
			t.Errorf("%d %q, want 401 invalid_token", r.Status, r.errCode())
		}
	})
}
