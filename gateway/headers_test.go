package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Every page of the flow carries the security headers, and Foyer's cookies
// are HttpOnly and SameSite=Lax.
func TestPagesAndCookiesHardened(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false)
	b := h.browser()
	params, _ := authParams(c, nil)
	first := h.do(b, http.MethodGet, h.authorizeURL(params), nil)
	login := h.followFrom(b, first)
	failed := h.submitLogin(b, login, "alice", "wrong")
	posted := h.postForm(b, login, func() htmlForm {
		f := parseForm(t, login.Body)
		f.Fields.Set("username", "alice")
		f.Fields.Set("password", testPassword)
		return f
	}())
	consent := h.followFrom(b, posted)
	unknown := h.do(b, http.MethodGet, h.issuer+"/authorize?client_id=nobody", nil)

	pages := map[string]resp{"login": login, "failed login": failed, "consent": consent, "error": unknown}
	for name, p := range pages {
		t.Run(name, func(t *testing.T) {
			hd := p.Header
			csp := hd.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP %q allows inline code", csp)
			}
			want := map[string]string{
				"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
				"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
			}
			for k, v := range want {
				if hd.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, hd.Get(k), v)
				}
			}
		})
	}

	// A login that needs no consent redirects from the form's POST
	// straight to the client; browsers check that against form-action.
	for name, p := range map[string]resp{"login": login, "failed login": failed, "consent": consent} {
		if !cspAllowsFormAction(p.Header.Get("Content-Security-Policy"), "https://app.rp.example") {
			t.Errorf("%s page: form-action does not allow the client's origin: %q", name, p.Header.Get("Content-Security-Policy"))
		}
	}

	cookies := map[string]*http.Cookie{}
	for _, r := range []resp{first, posted} {
		res := http.Response{Header: r.Header}
		for _, ck := range res.Cookies() {
			cookies[ck.Name] = ck
		}
	}
	for _, name := range []string{flowCookieName, sessionCookieName} {
		ck := cookies[name]
		if ck == nil {
			t.Errorf("cookie %s was not set", name)
			continue
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || len(ck.Value) < 43 {
			t.Errorf("cookie %s: HttpOnly %t SameSite %v Path %q length %d", name, ck.HttpOnly, ck.SameSite, ck.Path, len(ck.Value))
		}
	}
}

// Forms whose POST may be answered by the redirect to the client allow the
// client's origin in form-action.
func TestFormActionAllowsClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	h.login(b, c, "alice", nil)
	params, _ := authParams(c, url.Values{"prompt": {"select_account"}})
	page := h.follow(b, h.authorizeURL(params))
	if page.Status != http.StatusOK || !formField(page.Body, "csrf") {
		t.Fatalf("want the account chooser, got %s %d", page.URL.Path, page.Status)
	}
	if !cspAllowsFormAction(page.Header.Get("Content-Security-Policy"), "https://app.rp.example") {
		t.Errorf("select-account page: form-action does not allow the client's origin: %q", page.Header.Get("Content-Security-Policy"))
	}
}
