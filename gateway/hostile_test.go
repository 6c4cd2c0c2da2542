package gateway

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/local"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/sqlstore"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// Hostile input over real loopback HTTP: whatever a stranger sends, Foyer
// answers with a clear error (the right OAuth code, a readable page),
// never a 5xx, a panic or a stack trace, and loses nothing it stored.

// countingState counts the auth requests created, to check that a refused
// request stored nothing.
type countingState struct {
	storage.State
	created atomic.Int64
}

func (c *countingState) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	c.created.Add(1)
	return c.State.CreateAuthRequest(ctx, r)
}

// newHostileHarness is a harness whose State counts auth requests, with
// the confidential client "app" (no consent), alice, and the fake callback
// connector "up".
func newHostileHarness(t *testing.T, opts ...harnessOption) (*harness, *countingState, rp) {
	t.Helper()
	cs := &countingState{}
	up := &fakeUpstream{}
	opts = append([]harnessOption{func(o *Options) { cs.State = o.State; o.State = cs }, withFake("up", up, identity.Policy{Signup: true})}, opts...)
	h := newHarness(t, opts...)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent, withPostLogout("https://app.rp.example/bye"))
	return h, cs, c
}

// request sends method to target (a path under the issuer, or a URL) with
// browser b (nil: none), a body of content type ct, and extra headers.
func (h *harness) request(b *http.Client, method, target, ct, body string, hdr map[string]string) resp {
	h.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = h.issuer + target
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, target, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if b == nil {
		b = h.browser()
	}
	return h.send(b, req)
}

const formCT = "application/x-www-form-urlencoded"

// wantSane checks what every answer to hostile input must be: below 500,
// no Go stack trace, a heading on an HTML error page, and no redirect,
// link or form that leaves Foyer except for a URI in registered.
func (h *harness) wantSane(r resp, registered ...string) {
	h.t.Helper()
	if r.Status >= 500 {
		h.t.Errorf("%s %s: status %d:\n%s", r.URL.Path, r.URL.RawQuery, r.Status, r.Body)
	}
	for _, mark := range []string{"goroutine ", ".go:", "runtime/debug"} {
		if strings.Contains(r.Body, mark) {
			h.t.Errorf("%s: body shows %q, a stack trace:\n%s", r.URL.Path, mark, r.Body)
		}
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") && r.Status >= 400 && r.Body != "" && heading(r.Body) == "" {
		h.t.Errorf("%s: status %d page without a heading:\n%s", r.URL.Path, r.Status, r.Body)
	}
	targets := links(r.Body)
	for _, m := range formRE.FindAllStringSubmatch(r.Body, -1) {
		targets = append(targets, attrs(m[1])["action"])
	}
	if l := r.Header.Get("Location"); l != "" {
		targets = append(targets, l)
	}
	for _, target := range targets {
		if !h.staysHome(target, registered) {
			h.t.Errorf("%s: leads to %q, neither Foyer nor a registered URI", r.URL.Path, target)
		}
	}
}

// staysHome reports whether target is on Foyer, or a registered URI
// (followed only by a query Foyer added).
func (h *harness) staysHome(target string, registered []string) bool {
	if sameOrigin(target) || strings.HasPrefix(target, h.issuer+"/") {
		return true
	}
	for _, reg := range registered {
		if target == reg || strings.HasPrefix(target, reg+"?") || strings.HasPrefix(target, reg+"&") {
			return true
		}
	}
	return false
}

// pendingLogin starts a login for c and returns the browser and the login
// page.
func (h *harness) pendingLogin(c rp) (*http.Client, resp) {
	h.t.Helper()
	b := h.browser()
	return b, h.startLogin(b, c, url.Values{"scope": {"openid email"}, connectorParam: {"local"}})
}

func TestHostileOversizedBodies(t *testing.T) {
	t.Parallel()
	h, _, c := newHostileHarness(t)
	big := "a=" + strings.Repeat("x", 1<<20)
	for _, path := range []string{"/token", "/authorize", "/login/local", "/consent", "/logout", "/userinfo",
		"/callback/up", "/select-account", "/account/link", "/account/unlink", "/account/sessions/revoke"} {
		t.Run(path, func(t *testing.T) {
			h := h.with(t)
			r := h.request(nil, http.MethodPost, path, formCT, big, nil)
			h.wantSane(r, c.redirect)
			if r.Status < 400 {
				t.Errorf("status %d for a 1 MB body, want a 4xx", r.Status)
			}
			if path == "/token" {
				h.wantTokenError(tokenOf(t, r), http.StatusBadRequest, "invalid_request")
			}
		})
	}
}

// tokenOf reads a resp as a token endpoint answer.
func tokenOf(t *testing.T, r resp) tokenResp {
	t.Helper()
	out := tokenResp{Status: r.Status, Header: r.Header}
	if err := json.Unmarshal([]byte(r.Body), &out.JSON); err != nil {
		t.Fatalf("%s: status %d, body not JSON: %q", r.URL.Path, r.Status, r.Body)
	}
	return out
}

func TestHostileOversizedHeaders(t *testing.T) {
	t.Parallel()
	h, _, c := newHostileHarness(t)
	long := strings.Repeat("A", 16<<10)
	tests := []struct {
		name, method, path, header, value string
		status                            int
	}{
		{name: "2 MB header", method: http.MethodGet, path: "/authorize", header: "X-Padding", value: strings.Repeat("p", 2<<20), status: http.StatusRequestHeaderFieldsTooLarge},
		{name: "16 KB bearer token", method: http.MethodGet, path: "/userinfo", header: "Authorization", value: "Bearer " + long, status: http.StatusUnauthorized},
		{name: "16 KB basic credentials", method: http.MethodPost, path: "/token", header: "Authorization", value: "Basic " + long, status: http.StatusUnauthorized},
		{name: "16 KB session cookie", method: http.MethodGet, path: "/account", header: "Cookie", value: sessionCookieName + "=" + long, status: http.StatusOK},
		{name: "16 KB flow cookie", method: http.MethodGet, path: "/login?req=" + long[:40], header: "Cookie", value: flowCookieName + "=" + long, status: http.StatusBadRequest},
		{name: "16 KB X-Forwarded-For", method: http.MethodGet, path: "/authorize?client_id=app", header: "X-Forwarded-For", value: strings.Repeat("1.2.3.4, ", 2000), status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			body := ""
			if tt.method == http.MethodPost {
				body = "grant_type=refresh_token&refresh_token=x"
			}
			r := h.request(nil, tt.method, tt.path, formCT, body, map[string]string{tt.header: tt.value})
			h.wantSane(r, c.redirect)
			if r.Status != tt.status && !(tt.path == "/authorize?client_id=app" && r.Status < 500) {
				t.Errorf("status %d, want %d", r.Status, tt.status)
			}
		})
	}
}

// hostileValues are bytes that have broken parsers: invalid UTF-8, NUL,
// CR LF, and a lone surrogate's encoding.
var hostileValues = []string{"\xff\xfe", "a\x00b", "\x00", "x\r\nSet-Cookie: injected=1", "\xed\xa0\x80"}

func TestHostileBytesInAuthorize(t *testing.T) {
	t.Parallel()
	h, _, c := newHostileHarness(t)
	params := []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
		"code_challenge_method", "prompt", "max_age", "login_hint", "connector_id", "response_mode", "id_token_hint",
		"request", "acr_values"}
	for _, p := range params {
		for i, v := range hostileValues {
			t.Run(p+"/"+string(rune('a'+i)), func(t *testing.T) {
				h := h.with(t)
				q, _ := authParams(c, url.Values{p: {v}})
				if p == "redirect_uri" {
					q.Set(p, c.redirect+v) // the registered URI, then the bytes
				}
				for _, post := range []bool{false, true} {
					var r resp
					if post {
						r = h.request(nil, http.MethodPost, "/authorize", formCT, q.Encode(), nil)
					} else {
						r = h.request(nil, http.MethodGet, "/authorize?"+q.Encode(), "", "", nil)
					}
					h.wantSane(r, c.redirect)
					if strings.Contains(r.Header.Get("Set-Cookie"), "injected") {
						t.Errorf("header injection: Set-Cookie %q", r.Header.Get("Set-Cookie"))
					}
				}
			})
		}
	}
}

func TestHostileBytesInToken(t *testing.T) {
	t.Parallel()
	h, _, c := newHostileHarness(t)
	params := []string{"grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret",
		"refresh_token", "scope", "username", "password", "connector_id"}
	for _, p := range params {
		for i, v := range hostileValues {
			t.Run(p+"/"+string(rune('a'+i)), func(t *testing.T) {
				h := h.with(t)
				form := url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {c.redirect}}
				form.Set(p, v)
				r := h.request(nil, http.MethodPost, "/token", formCT, form.Encode(),
					map[string]string{"Authorization": "Basic " + basic(c.ID, c.secret)})
				h.wantSane(r)
				tr := tokenOf(t, r)
				if tr.Status != http.StatusBadRequest && !(tr.Status == http.StatusUnauthorized && tr.errCode() == "invalid_client") {
					t.Errorf("status %d error %q", tr.Status, tr.errCode())
				}
			})
		}
	}
}

// basic is the token of client_secret_basic (RFC 6749 §2.3.1).
func basic(id, secret string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func TestHostileBytesInBrowserSteps(t *testing.T) {
	t.Parallel()
	h, cs, c := newHostileHarness(t)
	for i, v := range hostileValues {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			h := h.with(t)
			b, page := h.pendingLogin(c)
			// Every field of the login form.
			for _, field := range []string{"username", "password", "req", "csrf"} {
				f := parseForm(t, page.Body)
				f.Fields.Set("username", "alice")
				f.Fields.Set("password", "wrong")
				f.Fields.Set(field, v)
				r := h.postForm(b, page, f)
				h.wantSane(r, c.redirect)
				if r.Status < 400 {
					t.Errorf("login with %s=%q: status %d, want a refusal", field, v, r.Status)
				}
			}
			before := cs.created.Load()
			for _, target := range []string{
				"/consent?" + url.Values{"req": {v}, "step": {v}}.Encode(),
				"/login?" + url.Values{"req": {v}}.Encode(),
				"/login/local?" + url.Values{"req": {v}}.Encode(),
				"/select-account?" + url.Values{"req": {v}}.Encode(),
				"/callback/up?" + url.Values{"state": {v + "." + v}, "code": {v}}.Encode(),
				"/logout?" + url.Values{"client_id": {v}, "post_logout_redirect_uri": {v}, "state": {v}, "id_token_hint": {v}}.Encode(),
				"/userinfo?" + url.Values{"access_token": {v}}.Encode(),
			} {
				h.wantSane(h.request(b, http.MethodGet, target, "", "", nil), c.redirect)
				u, _ := url.Parse(target)
				h.wantSane(h.request(b, http.MethodPost, u.Path, formCT, u.RawQuery, nil), c.redirect)
			}
			if n := cs.created.Load() - before; n != 0 {
				t.Errorf("%d auth requests stored for requests that were refused", n)
			}
			// The pending login still completes.
			h.wantKind(h.submitLogin(b, page, "alice", testPassword), kindRedirect)
		})
	}
}

func TestHostileRepeatedParameters(t *testing.T) {
	t.Parallel()
	h, cs, c := newHostileHarness(t)
	for _, p := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "prompt"} {
		t.Run("authorize "+p, func(t *testing.T) {
			h := h.with(t)
			q, _ := authParams(c, nil)
			q[p] = []string{q.Get(p), q.Get(p)}
			before := cs.created.Load()
			r := h.request(nil, http.MethodGet, "/authorize?"+q.Encode(), "", "", nil)
			h.wantSane(r, c.redirect)
			switch p {
			case "client_id", "redirect_uri":
				h.wantErrorPage(r, http.StatusBadRequest)
			default:
				if got := h.authzResponse(r, c.redirect).Get("error"); got != "invalid_request" {
					t.Errorf("error %q, want invalid_request", got)
				}
			}
			if cs.created.Load() != before {
				t.Error("a refused request was stored")
			}
		})
	}
	for _, p := range []string{"grant_type", "code", "redirect_uri", "client_id", "client_secret"} {
		t.Run("token "+p, func(t *testing.T) {
			h := h.with(t)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {c.redirect},
				"client_id": {c.ID}, "client_secret": {c.secret}}
			form[p] = append(form[p], form.Get(p))
			h.wantTokenError(h.tokenRequest(form, "", ""), http.StatusBadRequest, "invalid_request")
		})
	}
	t.Run("logout", func(t *testing.T) {
		h := h.with(t)
		r := h.request(nil, http.MethodGet, "/logout?state=a&state=b", "", "", nil)
		h.wantSane(r)
		h.wantErrorPage(r, http.StatusBadRequest)
	})
}

func TestHostileContentTypes(t *testing.T) {
	t.Parallel()
	h, _, c := newHostileHarness(t)
	q, _ := authParams(c, nil)
	tokenForm := "grant_type=authorization_code&code=x&redirect_uri=" + url.QueryEscape(c.redirect)
	auth := map[string]string{"Authorization": "Basic " + basic(c.ID, c.secret)}
	tests := []struct {
		name, path, ct, body string
	}{
		{name: "token JSON", path: "/token", ct: "application/json", body: `{"grant_type":"authorization_code","code":"x"}`},
		{name: "token text", path: "/token", ct: "text/plain", body: tokenForm},
		{name: "token multipart", path: "/token", ct: "multipart/form-data; boundary=xyz", body: "--xyz\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nauthorization_code\r\n--xyz--\r\n"},
		{name: "token none", path: "/token", ct: "", body: tokenForm},
		{name: "token malformed", path: "/token", ct: "application/x-www-form-urlencoded; charset", body: tokenForm},
		{name: "authorize JSON", path: "/authorize", ct: "application/json", body: `{"client_id":"app"}`},
		{name: "authorize multipart", path: "/authorize", ct: "multipart/form-data; boundary=xyz", body: "--xyz--\r\n"},
		{name: "authorize text", path: "/authorize", ct: "text/plain", body: q.Encode()},
		{name: "userinfo JSON", path: "/userinfo", ct: "application/json", body: `{"access_token":"x"}`},
		{name: "logout JSON", path: "/logout", ct: "application/json", body: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			r := h.request(nil, http.MethodPost, tt.path, tt.ct, tt.body, auth)
			h.wantSane(r, c.redirect)
			switch tt.path {
			case "/token":
				h.wantTokenError(tokenOf(t, r), http.StatusBadRequest, "invalid_request")
			case "/userinfo":
				if r.Status != http.StatusBadRequest && r.Status != http.StatusUnauthorized {
					t.Errorf("status %d, want 400 or 401", r.Status)
				}
			default:
				h.wantErrorPage(r, http.StatusBadRequest)
			}
		})
	}
	t.Run("token form with charset", func(t *testing.T) {
		h := h.with(t)
		r := h.request(nil, http.MethodPost, "/token", formCT+"; charset=UTF-8", tokenForm, auth)
		h.wantTokenError(tokenOf(t, r), http.StatusBadRequest, "invalid_grant")
	})
}

func TestHostileMethods(t *testing.T) {
	t.Parallel()
	h, _, _ := newHostileHarness(t)
	paths := []string{"/.well-known/openid-configuration", "/jwks", "/authorize", "/login", "/login/local", "/callback/up",
		"/consent", "/logout", "/account", "/account/login", "/account/link", "/select-account", "/token", "/userinfo",
		"/static/foyer.css", "/healthz", "/readyz"}
	for _, path := range paths {
		for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, "PROPFIND"} {
			t.Run(m+path, func(t *testing.T) {
				h := h.with(t)
				r := h.request(nil, m, path, formCT, "a=b", nil)
				h.wantSane(r)
				if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") == "" {
					t.Errorf("status %d Allow %q, want 405 with Allow", r.Status, r.Header.Get("Allow"))
				}
			})
		}
	}
}

func TestHostileHEAD(t *testing.T) {
	t.Parallel()
	h, _, c := newHostileHarness(t)
	q, _ := authParams(c, nil)
	for _, path := range []string{"/.well-known/openid-configuration", "/jwks", "/static/foyer.css", "/healthz", "/readyz",
		"/authorize?" + q.Encode(), "/login?req=x", "/login/local?req=x", "/callback/up?state=a.b", "/consent?req=x&step=y",
		"/logout", "/account", "/select-account?req=x", "/userinfo", "/nowhere"} {
		t.Run(path, func(t *testing.T) {
			h := h.with(t)
			r := h.request(nil, http.MethodHead, path, "", "", nil)
			h.wantSane(r, c.redirect)
			if r.Body != "" {
				t.Errorf("HEAD answered with a body of %d bytes", len(r.Body))
			}
			get := h.request(nil, http.MethodGet, path, "", "", nil)
			if r.Status != get.Status && r.Status != http.StatusMethodNotAllowed {
				t.Errorf("HEAD status %d, GET %d", r.Status, get.Status)
			}
		})
	}
}

func TestHostileStaticTraversal(t *testing.T) {
	t.Parallel()
	theme := t.TempDir()
	if err := os.MkdirAll(filepath.Join(theme, "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"secret.txt": "THEME-SECRET", "static/theme.css": "body{}"} {
		if err := os.WriteFile(filepath.Join(theme, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, _, _ := newHostileHarness(t, func(o *Options) { o.Theme = theme })
	for _, path := range []string{"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/..%2fsecret.txt",
		"/static/%2e%2e%2fsecret.txt", "/static/..%5csecret.txt", "/static//secret.txt", "/static/theme.css/../../secret.txt",
		"/static/../templates/layout.html", "/static/..%2f..%2fgo.mod", "/static/foyer.css%00.txt", "/static/", "/static/.",
		"/static/%2e", "/static/./../secret.txt", "/static/\\..\\secret.txt"} {
		t.Run(path, func(t *testing.T) {
			h := h.with(t)
			r := h.request(nil, http.MethodGet, path, "", "", nil)
			h.wantSane(r)
			if r.Status == http.StatusOK || strings.Contains(r.Body, "THEME-SECRET") || strings.Contains(r.Body, "{{") ||
				strings.Contains(r.Body, "module github.com") {
				t.Errorf("status %d served %q", r.Status, r.Body[:min(len(r.Body), 80)])
			}
		})
	}
	if r := h.request(nil, http.MethodGet, "/static/theme.css", "", "", nil); r.Status != http.StatusOK {
		t.Errorf("the theme's own file: status %d", r.Status)
	}
}

// offsiteValues are ways to name another site where a same-origin path is
// expected.
var offsiteValues = []string{"//evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
	"https://evil.example/", "javascript:alert(1)", "/%2F%2Fevil.example", "%2F%2Fevil.example", "//evil.example/%2e%2e"}

// Every link, form and redirect a page shows stays on Foyer or goes to a
// registered URI, whatever a request slips in where a path may appear.
func TestHostileOffsiteValues(t *testing.T) {
	t.Parallel()
	h, _, c := newHostileHarness(t)
	b, page := h.pendingLogin(c)
	id := parseForm(t, page.Body).Fields.Get("req")
	for i, evil := range offsiteValues {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			h := h.with(t)
			good, _ := authParams(c, nil)
			bad, _ := authParams(c, url.Values{"redirect_uri": {evil}})
			state, _ := authParams(c, url.Values{"state": {evil}})
			for _, target := range []string{
				"/authorize?" + bad.Encode(),
				"/authorize?" + state.Encode(),
				"/authorize?" + good.Encode() + "&" + url.Values{connectorParam: {evil}}.Encode(),
				"/logout?" + url.Values{"client_id": {c.ID}, "post_logout_redirect_uri": {evil}}.Encode(),
				"/logout?" + url.Values{"post_logout_redirect_uri": {evil}}.Encode(),
				"/callback/up?" + url.Values{"state": {id + "." + evil}}.Encode(),
				"/callback/up?" + url.Values{"state": {evil + "." + evil}}.Encode(),
				"/login/local?" + url.Values{"req": {evil}}.Encode(),
				"/login/" + url.PathEscape(evil) + "?req=" + id,
				"/consent?" + url.Values{"req": {id}, "step": {evil}}.Encode(),
				"/select-account?" + url.Values{"req": {evil}}.Encode(),
				"/account?" + url.Values{"done": {evil}}.Encode(),
				"/" + strings.ReplaceAll(evil, "\t", "%09"),
			} {
				r := h.request(b, http.MethodGet, target, "", "", nil)
				h.wantSane(r, c.redirect, c.PostLogoutRedirectURIs[0])
			}
			r := h.request(b, http.MethodPost, "/account/link", formCT, url.Values{"connector": {evil}, "csrf": {evil}}.Encode(), nil)
			h.wantSane(r)
		})
	}
	// The pending login, whose id the requests above carried, still works.
	h.wantKind(h.submitLogin(b, page, "alice", testPassword), kindRedirect)
}

func TestHostileLongValues(t *testing.T) {
	t.Parallel()
	h, cs, c := newHostileHarness(t)
	huge := strings.Repeat("a", 100<<10)
	tests := []struct {
		name, param, value, code string // code "" means an error page
	}{
		{name: "state over 2048", param: "state", value: huge[:2049], code: "invalid_request"},
		{name: "state of 100 KB", param: "state", value: huge, code: "invalid_request"},
		{name: "nonce over 512", param: "nonce", value: huge[:513], code: "invalid_request"},
		{name: "login_hint over 256", param: "login_hint", value: huge[:257], code: "invalid_request"},
		{name: "code_challenge", param: "code_challenge", value: huge[:4096], code: "invalid_request"},
		{name: "max_age", param: "max_age", value: strings.Repeat("9", 400), code: "invalid_request"},
		{name: "scope", param: "scope", value: "openid " + huge, code: "invalid_scope"},
		{name: "client_id", param: "client_id", value: huge[:300]},
		{name: "redirect_uri", param: "redirect_uri", value: c.redirect + "?" + huge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			q, _ := authParams(c, url.Values{tt.param: {tt.value}})
			before := cs.created.Load()
			r := h.request(nil, http.MethodGet, "/authorize?"+q.Encode(), "", "", nil)
			h.wantSane(r, c.redirect)
			if tt.code == "" {
				h.wantErrorPage(r, http.StatusBadRequest)
			} else {
				resp := h.authzResponse(r, c.redirect)
				if resp.Get("error") != tt.code || len(resp.Get("state")) > maxStateLen {
					t.Errorf("error %q with a state of %d bytes, want %q", resp.Get("error"), len(resp.Get("state")), tt.code)
				}
			}
			if cs.created.Load() != before {
				t.Error("a refused request was stored")
			}
		})
	}
	t.Run("state at the limit", func(t *testing.T) {
		h := h.with(t)
		q, _ := authParams(c, url.Values{"state": {huge[:maxStateLen]}, connectorParam: {"local"}})
		h.wantKind(h.follow(h.browser(), h.authorizeURL(q)), kindLogin)
	})
	t.Run("logout state", func(t *testing.T) {
		h := h.with(t)
		r := h.request(nil, http.MethodGet, "/logout?"+url.Values{"state": {huge[:maxStateLen+1]}}.Encode(), "", "", nil)
		h.wantErrorPage(r, http.StatusBadRequest)
	})
	for _, p := range []string{"code", "refresh_token", "code_verifier", "client_secret", "redirect_uri"} {
		t.Run("token "+p, func(t *testing.T) {
			h := h.with(t)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {c.ID}, "client_secret": {c.secret}}
			if p == "refresh_token" {
				form.Set("grant_type", "refresh_token")
			}
			form.Set(p, huge[:10<<10])
			r := h.tokenRequest(form, "", "")
			if r.Status >= 500 || (r.errCode() != "invalid_request" && r.errCode() != "invalid_grant" && r.errCode() != "invalid_client") {
				t.Errorf("status %d error %q", r.Status, r.errCode())
			}
		})
	}
}

// A connector id that names nothing gets a readable 404 page, at login and
// at the callback, and leaves the pending login alone.
func TestHostileUnknownConnector(t *testing.T) {
	t.Parallel()
	h, _, c := newHostileHarness(t)
	b, page := h.pendingLogin(c)
	id := parseForm(t, page.Body).Fields.Get("req")
	for _, conn := range []string{"nope", "LOCAL", "local%00", "up%2Fx", "local%20", strings.Repeat("x", 4000)} {
		t.Run(conn[:min(len(conn), 12)], func(t *testing.T) {
			h := h.with(t)
			for _, r := range []resp{
				h.request(b, http.MethodGet, "/login/"+conn+"?req="+id, "", "", nil),
				h.request(b, http.MethodPost, "/login/"+conn, formCT, "req="+id, nil),
				h.request(b, http.MethodGet, "/callback/"+conn+"?state="+id+".x", "", "", nil),
				h.request(b, http.MethodPost, "/callback/"+conn, formCT, "state="+id+".x", nil),
				h.request(b, http.MethodGet, "/saml/"+conn+"/metadata", "", "", nil),
			} {
				h.wantSane(r)
				h.wantErrorPage(r, http.StatusNotFound)
			}
			// Without a live request the link itself is wrong: a 400 page.
			r := h.request(nil, http.MethodGet, "/login/"+conn, "", "", nil)
			h.wantSane(r)
			h.wantErrorPage(r, http.StatusBadRequest)
		})
	}
	h.wantKind(h.submitLogin(b, page, "alice", testPassword), kindRedirect)
}

// A request id Foyer never issued gets a readable 400 page at every step,
// stores nothing, and does not disturb a login in progress.
func TestHostileNeverIssuedRequest(t *testing.T) {
	t.Parallel()
	h, cs, c := newHostileHarness(t)
	b, page := h.pendingLogin(c)
	fake := storage.NewSecret()
	before := cs.created.Load()
	for _, br := range []*http.Client{b, h.browser()} {
		for _, r := range []resp{
			h.request(br, http.MethodGet, "/consent?req="+fake+"&step="+storage.NewSecret(), "", "", nil),
			h.request(br, http.MethodPost, "/consent", formCT, url.Values{"req": {fake}, "step": {fake}, "decision": {"allow"}}.Encode(), nil),
			h.request(br, http.MethodGet, "/login?req="+fake, "", "", nil),
			h.request(br, http.MethodGet, "/login/local?req="+fake, "", "", nil),
			h.request(br, http.MethodPost, "/login/local", formCT, url.Values{"req": {fake}, "username": {"alice"}, "password": {testPassword}}.Encode(), nil),
			h.request(br, http.MethodGet, "/login/up?req="+fake, "", "", nil),
			h.request(br, http.MethodGet, "/select-account?req="+fake, "", "", nil),
			h.request(br, http.MethodPost, "/select-account", formCT, "req="+fake, nil),
			h.request(br, http.MethodGet, "/callback/up?state="+fake+"."+fake+"&code=upstream-code", "", "", nil),
		} {
			h.wantSane(r)
			h.wantErrorPage(r, http.StatusBadRequest)
		}
	}
	if cs.created.Load() != before {
		t.Error("requests with an id never issued stored an auth request")
	}
	h.wantKind(h.submitLogin(b, page, "alice", testPassword), kindRedirect)
}

// Strangers hammering every endpoint while alice logs in, from other
// browsers and addresses, neither stop her login nor lose what was stored
// before: bob's session and tokens still work afterwards.
func TestHostileConcurrentWithLogin(t *testing.T) {
	t.Parallel()
	h, _, c := newHostileHarness(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	other := h.addRP("other", false, skipConsent)
	h.addUser("bob", testPassword)
	local := url.Values{connectorParam: {"local"}}
	bobBrowser := h.browser()
	bob := h.tokensFor(bobBrowser, c, "bob", local)
	bobSession := storage.HashSecret(h.cookie(bobBrowser, sessionCookieName))
	attacker, page := h.pendingLogin(c)
	guess := parseForm(t, page.Body).Fields
	guess.Set("username", "alice")
	guess.Set("password", "guess")
	q, _ := authParams(c, nil)
	big := "a=" + strings.Repeat("x", 1<<20)
	refreshAs := func(id, secret string) string {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bob.str("refresh_token")}, "client_id": {id}, "client_secret": {secret}}.Encode()
	}
	attacks := []struct{ method, path, body, auth string }{
		{http.MethodPost, "/token", big, ""},
		{http.MethodPost, "/token", refreshAs(c.ID, "wrong"), ""},
		{http.MethodPost, "/token", refreshAs(other.ID, other.secret), ""},
		{http.MethodPost, "/token", "grant_type=authorization_code&code=forged&client_id=app&client_secret=" + c.secret, ""},
		{http.MethodGet, "/authorize?" + q.Encode() + "&state=dup", "", ""},
		{http.MethodGet, "/authorize?" + q.Encode(), "", ""},
		{http.MethodGet, "/userinfo", "", "Bearer " + bob.str("access_token") + "x"},
		{http.MethodPost, "/logout", "confirm=yes&csrf=forged", ""},
		{http.MethodGet, "/logout?id_token_hint=" + bob.str("id_token"), "", ""},
		{http.MethodPost, "/account/sessions/revoke", "csrf=forged&sid=" + bobSession, ""},
		{http.MethodPost, "/login/local", guess.Encode(), ""},
		{http.MethodGet, "/consent?req=" + storage.NewSecret() + "&step=x", "", ""},
		{http.MethodPost, "/callback/up", big, ""},
		{http.MethodPut, "/token", "x", ""},
		{http.MethodGet, "/static/%2e%2e/go.mod", "", ""},
	}
	var fivexx, sent atomic.Int64
	stop, warm := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := w; ; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				a := attacks[i%len(attacks)]
				if a.path == "/login/local" && i > 60*len(attacks) {
					continue // stay under the per-username ceiling
				}
				req, _ := http.NewRequestWithContext(context.Background(), a.method, h.issuer+a.path, strings.NewReader(a.body))
				req.Header.Set("Content-Type", formCT)
				req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i%250))
				if a.auth != "" {
					req.Header.Set("Authorization", a.auth)
				}
				res, err := attacker.Do(req)
				if err != nil {
					continue // a connection the server closed on a huge body
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if sent.Add(1) == int64(len(attacks)) {
					close(warm) // the flood is on: now alice logs in
				}
				if res.StatusCode >= 500 {
					fivexx.Add(1)
				}
			}
		}()
	}
	<-warm
	alice := h.tokensFor(h.browser(), c, "alice", local)
	h.mustTokens(h.refresh(c, alice.str("refresh_token"), ""))
	close(stop)
	for range 4 {
		<-done
	}
	t.Logf("%d hostile requests during the login", sent.Load())
	if n := fivexx.Load(); n > 0 {
		t.Errorf("%d hostile requests got a 5xx", n)
	}
	if ui := h.userinfo(alice.str("access_token")); ui.Status != http.StatusOK {
		t.Errorf("alice's userinfo: %d", ui.Status)
	}
	if _, err := h.store.Session(context.Background(), bobSession); err != nil {
		t.Errorf("bob's session is gone: %v", err)
	}
	h.mustTokens(h.refresh(c, bob.str("refresh_token"), ""))
	if ui := h.userinfo(bob.str("access_token")); ui.Status != http.StatusOK {
		t.Errorf("bob's userinfo: %d", ui.Status)
	}
}

// postgresHarness is a harness whose directory and state are a throwaway
// PostgreSQL database, whose text columns refuse NUL and invalid UTF-8.
func postgresHarness(t *testing.T) (*harness, rp) {
	t.Helper()
	admin := os.Getenv("FOYER_TEST_POSTGRES_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=5"
	}
	db, err := sql.Open("pgx", admin)
	if err == nil {
		err = db.PingContext(t.Context())
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI: %v", err)
		}
		t.Skipf("SKIPPING: no PostgreSQL (set FOYER_TEST_POSTGRES_URL): %v", err)
	}
	// NewID is base64url: '-' is not allowed in a bare SQL identifier.
	name := "foyer_hostile_" + strings.NewReplacer("-", "_").Replace(strings.ToLower(storage.NewID()[:12]))
	if _, err := db.ExecContext(t.Context(), `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); db.Close() })
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	st, err := sqlstore.OpenPostgres(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := newHarness(t, func(o *Options) {
		lc, err := local.Open(local.Config{}, connectors.Env{ID: "local", Users: st, Logger: o.Logger})
		if err != nil {
			t.Fatal(err)
		}
		o.Directory, o.State, o.Linker = st, st, identity.NewLinker(st, o.Clock, o.Logger)
		o.Connectors = []Connector{{ID: "local", Type: "local", Name: "Email", Impl: lc, Policy: identity.Policy{Signup: true}}}
	})
	c := storage.Client{ID: "app", RedirectURIs: []string{"https://app.rp.example/cb"}, SecretHash: HashClientSecret("secret-app"), SkipConsent: true}
	if err := st.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return h, rp{Client: c, secret: "secret-app", redirect: c.RedirectURIs[0]}
}

// On PostgreSQL, a NUL or invalid UTF-8 in a client_id or a username
// reaches the database, which refuses it: the store's error becomes a 500
// (or a 503 "try again"), where the memory store says "not found".
func TestHostileBytesOnPostgres(t *testing.T) {
	t.Parallel()
	h, c := postgresHarness(t)

	for _, v := range []string{"a\x00b", "\xff"} {
		q, _ := authParams(c, url.Values{"client_id": {v}})
		h.wantSane(h.request(nil, http.MethodGet, "/authorize?"+q.Encode(), "", "", nil))
		h.wantSane(h.request(nil, http.MethodGet, "/logout?"+url.Values{"client_id": {v}, "post_logout_redirect_uri": {c.redirect}}.Encode(), "", "", nil))
		h.wantTokenError(h.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {v}}, "", ""),
			http.StatusUnauthorized, "invalid_client")
		b, page := h.pendingLogin(c)
		f := parseForm(t, page.Body)
		f.Fields.Set("username", v)
		f.Fields.Set("password", "guess")
		h.wantLoginFormAgain(h.postForm(b, page, f), http.StatusUnauthorized)
	}
}

// /select-account with the id of the account page's own login (which has
// no client) is a wrong link: a 400 page, not a 500.
func TestHostileSelectAccountOfAccountLogin(t *testing.T) {
	t.Parallel()
	h, _, _ := newHostileHarness(t)
	b := h.browser()
	start := h.request(b, http.MethodGet, "/account/login", "", "", nil)
	id := start.location().Query().Get("req")
	for _, r := range []resp{
		h.request(b, http.MethodGet, "/select-account?req="+id, "", "", nil),
		h.request(b, http.MethodPost, "/select-account", formCT, "req="+id, nil),
	} {
		h.wantSane(r)
		h.wantErrorPage(r, http.StatusBadRequest)
	}
}
