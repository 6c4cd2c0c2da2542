package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/internal/testenv"
)

// The proxy test runs foyer as docs/reverse-proxy.md says: behind Debian's
// nginx running the doc's server block as written, which terminates TLS and
// forwards /id/ to Foyer on loopback HTTP; the issuer is
// https://127.0.0.1:<nginx port>/id, trustedProxies [127.0.0.1/32]. The
// browser connects from 127.0.0.2, told apart from nginx's 127.0.0.1.

const (
	proxyUser     = "alice"
	proxyPassword = "alice-password"
	proxyBrowser  = "127.0.0.2" // the browser's address
	proxyStranger = "127.0.0.3" // someone guessing alice's password
	proxyForged   = "203.0.113.7"
)

// proxyDocBlock extracts the nginx block that docs/reverse-proxy.md marks
// as tested and turns it into a testenv.Nginx server template: each
// placeholder the doc uses must be there exactly once.
func proxyDocBlock(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "reverse-proxy.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "cmd/foyer/proxy_test.go runs the next nginx block")
	if !ok {
		t.Fatal("docs/reverse-proxy.md: no marked nginx block")
	}
	_, after, ok = strings.Cut(after, "```nginx\n")
	block, _, closed := strings.Cut(after, "```")
	if !ok || !closed {
		t.Fatal("docs/reverse-proxy.md: the marked nginx block is not a fenced nginx block")
	}
	for doc, field := range map[string]string{
		"listen 443 ssl;":                    "listen {{.Listen}} ssl;",
		"/etc/ssl/example.com/fullchain.pem": "{{.Cert}}",
		"/etc/ssl/example.com/privkey.pem":   "{{.Key}}",
		"http://127.0.0.1:5556":              "{{.Upstream}}",
	} {
		if n := strings.Count(block, doc); n != 1 {
			t.Fatalf("docs/reverse-proxy.md: the nginx block has %q %d times, want once", doc, n)
		}
		block = strings.ReplaceAll(block, doc, field)
	}
	return block
}

var proxyConfig = template.Must(template.New("foyer.yaml").Parse(`issuer: {{.Issuer}}
http: {addr: "{{.Addr}}", trustedProxies: [127.0.0.1/32]}
storage: {type: sqlite, sqlite: {file: "{{.Dir}}/foyer.db"}}
keys: {kek: {file: "{{.Dir}}/foyer.kek"}}
logging: {format: json, level: info}
clients:
  - {id: app, name: Proxy test app, secret: app-secret, redirectURIs: ["{{.Redirect}}"]}
users:
  - {username: ` + proxyUser + `, email: alice@example.com, name: Alice, passwordHash: "{{.Hash}}"}
`))

// proxyRP is the application: a loopback HTTP server whose callback
// exchanges the code through nginx with x/oauth2 and verifies the ID token
// with go-oidc.
type proxyRP struct {
	srv *httptest.Server
	mu  sync.Mutex
	cfg oauth2.Config
	ctx context.Context // carries the HTTP client that trusts the test CA
	oid *oidc.IDTokenVerifier
	iss string
	// verifier, state and nonce of the login under way.
	verifier, state, nonce string
	tokens                 chan *oauth2.Token
}

func (rp *proxyRP) redirect() string { return rp.srv.URL + "/callback" }

func (rp *proxyRP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	q := r.URL.Query()
	if q.Get("state") != rp.state || q.Get("iss") != rp.iss || q.Get("code") == "" {
		http.Error(w, "unexpected callback "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	tok, err := rp.cfg.Exchange(rp.ctx, q.Get("code"), oauth2.VerifierOption(rp.verifier))
	if err != nil {
		http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.oid.Verify(rp.ctx, raw)
	if err == nil && idt.Nonce != rp.nonce {
		err = fmt.Errorf("nonce %q, want %q", idt.Nonce, rp.nonce)
	}
	if err != nil {
		http.Error(w, "id token: "+err.Error(), http.StatusBadGateway)
		return
	}
	rp.tokens <- tok
	_, _ = io.WriteString(w, "logged in as "+idt.Subject)
}

// authURL starts a login with PKCE, a state and a nonce.
func (rp *proxyRP) authURL() string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.verifier, rp.state, rp.nonce = oauth2.GenerateVerifier(), rand.Text(), rand.Text()
	return rp.cfg.AuthCodeURL(rp.state, oauth2.S256ChallengeOption(rp.verifier), oidc.Nonce(rp.nonce))
}

// proxyBrowserT is a browser behind nginx that checks every response
// Foyer sends it through the proxy.
type proxyBrowserT struct {
	t       *testing.T
	c       *http.Client
	issuer  *url.URL
	rp      *proxyRP
	ids     []string        // X-Request-Id of every response through nginx
	cookies map[string]bool // names of the cookies Foyer set
	assets  map[string]bool // stylesheets and scripts the pages reference
}

var (
	proxyRefs   = regexp.MustCompile(`\b(?:href|src|action)="([^"]*)"`)
	proxyAssets = regexp.MustCompile(`<(?:link|script)\b[^>]*\b(?:href|src)="([^"]*)"`)
	proxyAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// underIssuer reports whether u is the issuer or below it.
func (b *proxyBrowserT) underIssuer(u *url.URL) bool {
	return u.Scheme == "https" && u.Host == b.issuer.Host && strings.HasPrefix(u.Path, b.issuer.Path+"/")
}

// do sends req and, for answers from nginx, checks HSTS, the cookies, the
// redirect and every URL in the page.
func (b *proxyBrowserT) do(req *http.Request) (*http.Response, string) {
	t := b.t
	t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	if req.URL.Host != b.issuer.Host {
		return resp, body
	}
	b.ids = append(b.ids, resp.Header.Get("X-Request-Id"))
	if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("%s: no HSTS header", req.URL.Path)
	}
	for _, c := range resp.Cookies() {
		b.cookies[c.Name] = true
		if !c.Secure || !c.HttpOnly || c.Path != b.issuer.Path+"/" {
			t.Errorf("%s: cookie %s has Secure=%v HttpOnly=%v Path=%q; want Secure, HttpOnly, Path=%s/",
				req.URL.Path, c.Name, c.Secure, c.HttpOnly, c.Path, b.issuer.Path)
		}
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := req.URL.Parse(loc)
		if err != nil || !(b.underIssuer(u) || strings.HasPrefix(u.String(), b.rp.redirect()+"?")) {
			t.Errorf("%s redirects to %q, neither under the issuer nor to the client", req.URL.Path, loc)
		}
	}
	for _, m := range proxyRefs.FindAllStringSubmatch(body, -1) {
		u, err := req.URL.Parse(html.UnescapeString(m[1]))
		if err != nil || !b.underIssuer(u) {
			t.Errorf("%s: page refers to %q, outside the issuer", req.URL.Path, m[1])
		}
	}
	for _, m := range proxyAssets.FindAllStringSubmatch(body, -1) {
		if u, err := req.URL.Parse(html.UnescapeString(m[1])); err == nil {
			b.assets[u.String()] = true
		}
	}
	return resp, body
}

func (b *proxyBrowserT) get(target string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// submit posts the page's form with its hidden fields and extra.
func (b *proxyBrowserT) submit(page *url.URL, body string, extra url.Values) (*http.Response, string) {
	b.t.Helper()
	m := proxyAction.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("%s: no form:\n%s", page, body)
	}
	action, err := page.Parse(html.UnescapeString(m[1]))
	if err != nil {
		b.t.Fatal(err)
	}
	f := fields(body)
	for k, v := range extra {
		f[k] = v
	}
	req, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// walk follows redirects from start and fills in each form with what
// answer gives for it, until a page answer returns nil for.
func (b *proxyBrowserT) walk(start string, answer func(body string) url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, body := b.get(start)
	for range 10 {
		if loc := resp.Header.Get("Location"); loc != "" {
			u, _ := resp.Request.URL.Parse(loc)
			resp, body = b.get(u.String())
		} else if f := answer(body); f != nil {
			resp, body = b.submit(resp.Request.URL, body, f)
		} else {
			return resp, body
		}
	}
	b.t.Fatalf("no end after 10 steps from %s", start)
	return nil, ""
}

// aliceAnswers logs alice in and allows consent.
func aliceAnswers(body string) url.Values {
	switch {
	case strings.Contains(body, `name="password"`):
		return url.Values{"username": {proxyUser}, "password": {proxyPassword}}
	case strings.Contains(body, `name="decision"`):
		return url.Values{"decision": {"allow"}}
	}
	return nil
}

// proxyLog is foyer's JSON log, parsed.
func proxyLog(p *process) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// waitLog returns the first log entry that match accepts, waiting for
// foyer to write it.
func waitLog(t *testing.T, p *process, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		for _, e := range proxyLog(p) {
			if match(e) {
				return e
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no log entry for %s in:\n%s", what, p.stderr.String())
		}
	}
}

func requestLogged(id string) func(map[string]any) bool {
	return func(e map[string]any) bool { return e["msg"] == "request" && e["request_id"] == id }
}

// TestProxyNginx: Foyer under a path prefix behind nginx terminating TLS,
// exercised only through nginx (see docs/reverse-proxy.md).
func TestProxyNginx(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	ng := testenv.Nginx(t, "http://"+addr, testenv.NginxOptions{Server: proxyDocBlock(t)})
	issuer := ng.URL + "/id"

	rp := &proxyRP{tokens: make(chan *oauth2.Token, 1), iss: issuer}
	rp.srv = httptest.NewServer(rp)
	t.Cleanup(rp.srv.Close)

	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	hash, err := identity.HashPasswordWith(proxyPassword, identity.Params{Memory: 64, Time: 1, Threads: 1})
	var cfg strings.Builder
	err = errors.Join(err, proxyConfig.Execute(&cfg, map[string]string{
		"Issuer": issuer, "Addr": addr, "Dir": dir, "Redirect": rp.redirect(), "Hash": hash}))
	file := filepath.Join(dir, "foyer.yaml")
	err = errors.Join(err, os.WriteFile(file, []byte(cfg.String()), 0o600),
		os.WriteFile(filepath.Join(dir, "foyer.kek"), []byte(base64.StdEncoding.EncodeToString(kek)), 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runFoyer(t, "", "config", "check", file); code != 0 {
		t.Fatalf("config check: %d\n%s", code, errOut)
	}
	p := startFoyer(t, "http://"+addr+"/id", "serve", "--config", file)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("foyer log:\n%s", p.logs())
		}
	})

	// The application reaches Foyer through nginx too, with go-oidc.
	ctx := oidc.ClientContext(t.Context(), ng.Client(t, nil, ""))
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("discovery through nginx: %v", err)
	}
	rp.mu.Lock()
	rp.ctx = ctx
	rp.cfg = oauth2.Config{ClientID: "app", ClientSecret: "app-secret", Endpoint: provider.Endpoint(),
		RedirectURL: rp.redirect(), Scopes: []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess}}
	rp.oid = provider.Verifier(&oidc.Config{ClientID: "app"})
	rp.mu.Unlock()

	issuerURL, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	newBrowser := func(t *testing.T, source string) *proxyBrowserT {
		jar, _ := cookiejar.New(nil)
		return &proxyBrowserT{t: t, c: ng.Client(t, jar, source), issuer: issuerURL, rp: rp,
			cookies: map[string]bool{}, assets: map[string]bool{}}
	}

	t.Run("discovery", func(t *testing.T) {
		var disc map[string]any
		if err := provider.Claims(&disc); err != nil || disc["issuer"] != issuer {
			t.Errorf("issuer %v, want %s", disc["issuer"], issuer)
		}
		n := 0
		for k, v := range disc {
			if s, ok := v.(string); ok && (strings.HasSuffix(k, "_endpoint") || strings.HasSuffix(k, "_uri")) {
				n++
				if !strings.HasPrefix(s, issuer+"/") {
					t.Errorf("%s is %q, not under %s/", k, s, issuer)
				}
			}
		}
		if n < 4 {
			t.Errorf("discovery lists %d endpoints: %v", n, disc)
		}
	})

	// Ten wrong passwords from one address lock that address out, not
	// the browser's: the limit counts by the address nginx forwarded.
	t.Run("lockout counts by forwarded address", func(t *testing.T) {
		b := newBrowser(t, proxyStranger)
		resp, body := b.walk(rp.authURL(), func(string) url.Values { return nil })
		page := resp.Request.URL
		for i := range 11 {
			resp, body = b.submit(page, body, url.Values{"username": {proxyUser}, "password": {"wrong"}})
			want := http.StatusUnauthorized
			if i == 10 {
				want = http.StatusTooManyRequests
			}
			if resp.StatusCode != want {
				t.Fatalf("attempt %d: %s, want %d", i+1, resp.Status, want)
			}
		}
		e := waitLog(t, p, "the lockout", func(e map[string]any) bool { return e["msg"] == "login rate limited" })
		if e["remote"] != proxyStranger {
			t.Errorf("lockout logged for %v, want %s", e["remote"], proxyStranger)
		}
	})

	b := newBrowser(t, proxyBrowser)
	if resp, body := b.walk(rp.authURL(), aliceAnswers); resp.Request.URL.Host != rp.srv.Listener.Addr().String() ||
		resp.StatusCode != http.StatusOK {
		t.Fatalf("the login ended at %s with %s:\n%s", resp.Request.URL, resp.Status, body)
	}
	tok := <-rp.tokens
	for _, name := range []string{"foyer_flow", "foyer_session"} {
		if !b.cookies[name] {
			t.Errorf("Foyer set no %s cookie (set: %v)", name, b.cookies)
		}
	}
	t.Run("assets", func(t *testing.T) {
		if !b.assets[issuer+"/static/foyer.css"] {
			t.Errorf("the pages do not use %s/static/foyer.css: %v", issuer, b.assets)
		}
		for a := range b.assets {
			if resp, body := b.get(a); resp.StatusCode != http.StatusOK || body == "" ||
				(strings.HasSuffix(a, ".css") && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css")) {
				t.Errorf("%s: %s, %s, %d bytes", a, resp.Status, resp.Header.Get("Content-Type"), len(body))
			}
		}
	})
	t.Run("userinfo and refresh", func(t *testing.T) {
		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Email != "alice@example.com" {
			t.Fatalf("userinfo: %v %+v", err, info)
		}
		fresh, err := rp.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil || fresh.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh: %v", err)
		}
		if info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(fresh)); err != nil || info.Subject == "" {
			t.Fatalf("userinfo after refresh: %v", err)
		}
	})
	t.Run("request log shows the browser's address", func(t *testing.T) {
		if len(b.ids) < 4 {
			t.Fatalf("only %d requests went through nginx", len(b.ids))
		}
		for _, id := range b.ids {
			if e := waitLog(t, p, "request "+id, requestLogged(id)); e["remote"] != proxyBrowser {
				t.Errorf("%v %v logged from %v, want %s", e["method"], e["path"], e["remote"], proxyBrowser)
			}
		}
	})
	t.Run("forged X-Forwarded-For", func(t *testing.T) {
		tests := []struct {
			name, target, source, want string
		}{
			// nginx appends the browser's address: Foyer takes that one.
			{name: "through nginx", target: issuer, source: proxyBrowser, want: proxyBrowser},
			// Straight to Foyer from an address that is no trusted proxy.
			{name: "untrusted peer", target: "http://" + addr + "/id", source: proxyBrowser, want: proxyBrowser},
			// The control: a trusted peer is believed.
			{name: "trusted peer", target: "http://" + addr + "/id", source: "127.0.0.1", want: proxyForged},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// The nginx client dials from source, with or without TLS.
				c := ng.Client(t, nil, tt.source)
				req, _ := http.NewRequest(http.MethodGet, tt.target+"/jwks", nil)
				req.Header.Set("X-Forwarded-For", proxyForged)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				id := resp.Header.Get("X-Request-Id")
				if e := waitLog(t, p, "request "+id, requestLogged(id)); e["remote"] != tt.want {
					t.Errorf("logged from %v, want %s", e["remote"], tt.want)
				}
			})
		}
		if !strings.Contains(ng.AccessLog(), `xff="`+proxyForged+", "+proxyBrowser+`"`) {
			t.Errorf("nginx did not append the browser's address:\n%s", ng.AccessLog())
		}
	})
	t.Run("health checks", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			if resp, _ := b.get(issuer + path); resp.StatusCode != http.StatusOK {
				t.Errorf("%s through nginx: %s", path, resp.Status)
			}
		}
		// A request after them: once it is logged, they would be too.
		resp, _ := b.get(issuer + "/jwks")
		waitLog(t, p, "the last request", requestLogged(resp.Header.Get("X-Request-Id")))
		for _, e := range proxyLog(p) {
			if e["msg"] == "request" && slices.Contains([]any{"/id/healthz", "/id/readyz"}, e["path"]) {
				t.Errorf("a health probe is in the request log: %v", e)
				break
			}
		}
	})
}
