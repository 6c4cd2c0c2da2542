package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// withIssuerPath serves Foyer under a path (https://example.com/id style).
func withIssuerPath(path string) harnessOption {
	return func(o *Options) { o.Issuer += path }
}

var assetRE = regexp.MustCompile(`(?i)<(?:link|script)\b[^>]*\b(?:href|src)="([^"]*)"`)

// wantAssets checks that the stylesheets and scripts a page references
// load from under the issuer.
func (h *harness) wantAssets(page resp) {
	h.t.Helper()
	assets := assetRE.FindAllStringSubmatch(page.Body, -1)
	if len(assets) == 0 {
		h.t.Errorf("%s references no stylesheet", h.route(page.URL))
	}
	for _, m := range assets {
		u, err := page.URL.Parse(m[1])
		if err != nil || !h.onIssuer(u) {
			h.t.Errorf("%s references %q, outside the issuer", h.route(page.URL), m[1])
			continue
		}
		if r := h.do(http.DefaultClient, http.MethodGet, u.String(), nil); r.Status != http.StatusOK {
			h.t.Errorf("%s references %s: %d", h.route(page.URL), u.Path, r.Status)
		}
	}
}

// Under an issuer with a path, every link, form and asset stays under it
// and a standard client works unchanged.
func TestIssuerWithPath(t *testing.T) {
	t.Parallel()
	base := newHarness(t, withIssuerPath("/id"), withLocalConnector(t, "staff", "Staff"))
	h := base.with(t)
	h.issuer += "/id"
	h.addUser("alice", testPassword)
	c := h.addRP("app", false)
	relying := h.relyingParty(c, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)
	b := h.browser()

	verifier := oauth2.GenerateVerifier()
	authURL := relying.cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n1"))
	chooser := h.follow(b, authURL)
	h.wantKind(chooser, kindChooser)
	h.wantAssets(chooser)
	login := h.choose(b, chooser, "local")
	h.wantAssets(login)
	if f := parseForm(t, login.Body); !h.onIssuer(mustParse(t, login.URL, f.Action)) {
		t.Errorf("login form posts to %q", f.Action)
	}
	failed := h.submitLogin(b, login, "alice", "wrong")
	h.wantLoginFormAgain(failed, http.StatusUnauthorized)
	for _, l := range links(failed.Body) {
		if u := mustParse(t, failed.URL, l); !h.onIssuer(u) {
			t.Errorf("login page links to %q", l)
		}
	}
	consent := h.submitLogin(b, failed, "alice", testPassword)
	h.wantKind(consent, kindConsent)
	h.wantAssets(consent)
	if f := parseForm(t, consent.Body); !h.onIssuer(mustParse(t, consent.URL, f.Action)) {
		t.Errorf("consent form posts to %q", f.Action)
	}
	q := h.authzResponse(h.submitConsent(b, consent, "allow"), c.redirect)

	tok, err := relying.cfg.Exchange(relying.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	relying.verify(t, tok, "n1")
	if _, err := relying.provider.UserInfo(relying.ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Errorf("userinfo: %v", err)
	}
	if _, err := relying.cfg.TokenSource(relying.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Errorf("refresh: %v", err)
	}
	if h.cookie(b, sessionCookieName) == "" {
		t.Error("no session cookie for the issuer's path")
	}

	t.Run("form_post page", func(t *testing.T) {
		h := h.with(t)
		params, _ := authParams(c, url.Values{"response_mode": {"form_post"}, "prompt": {"none"}})
		r := h.do(b, http.MethodGet, h.authorizeURL(params), nil)
		h.wantKind(r, kindFormPost)
		h.wantAssets(r)
	})
	t.Run("error page", func(t *testing.T) {
		h := h.with(t)
		r := h.do(b, http.MethodGet, h.issuer+"/authorize?client_id=nobody", nil)
		h.wantErrorPage(r, http.StatusBadRequest)
		h.wantAssets(r)
	})
	t.Run("nothing outside the path", func(t *testing.T) {
		h := h.with(t)
		root := mustParse(t, nil, h.issuer)
		root.Path = "/authorize"
		if r := h.do(b, http.MethodGet, root.String()+"?client_id="+c.ID, nil); r.Status != http.StatusNotFound {
			t.Errorf("/authorize outside the issuer path: %d, want 404", r.Status)
		}
	})
}

func mustParse(t *testing.T, base *url.URL, ref string) *url.URL {
	t.Helper()
	var u *url.URL
	var err error
	if base != nil {
		u, err = base.Parse(ref)
	} else {
		u, err = url.Parse(ref)
	}
	if err != nil {
		t.Fatal(err)
	}
	return u
}
