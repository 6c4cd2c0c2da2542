package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/keys"
)

// interopNodeDir holds the Node relying party (package.json, rp.mjs) and,
// after `npm ci`, its node_modules.
const interopNodeDir = "../../interop/node"

// nodeRP finds node and the installed openid-client, returning the absolute
// path of interopNodeDir and the installed version. Missing pieces fail
// under CI=true (.ci/run installs them) and skip loudly elsewhere.
func nodeRP(t *testing.T) (string, string) {
	t.Helper()
	dir, err := filepath.Abs(interopNodeDir)
	if err != nil {
		t.Fatal(err)
	}
	npmCI := fmt.Sprintf("run: cd %s && npm ci --no-audit --no-fund", dir)
	missing := func(what, fix string) {
		msg := what + "; " + fix
		if os.Getenv("CI") == "true" {
			t.Fatal("interop: " + msg)
		}
		t.Skip("SKIPPING the openid-client interop test: " + msg)
	}
	v, err := exec.Command("node", "-p", "parseInt(process.versions.node) >= 20").Output()
	if err != nil || strings.TrimSpace(string(v)) != "true" {
		missing("no node 20 or later on PATH", "install Node.js 20 or later with npm, then "+npmCI)
	}
	var pkg [2]struct {
		Version      string            `json:"version"`
		Dependencies map[string]string `json:"dependencies"`
	}
	for i, f := range []string{"package.json", "node_modules/openid-client/package.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if i == 1 && err != nil {
			missing("openid-client is not installed", npmCI)
		}
		if err != nil || json.Unmarshal(b, &pkg[i]) != nil {
			t.Fatalf("interop: %s: unreadable (%v)", f, err)
		}
	}
	if pin, got := pkg[0].Dependencies["openid-client"], pkg[1].Version; got != pin {
		missing(fmt.Sprintf("node_modules has openid-client %s, package.json pins %s", got, pin), npmCI)
	}
	return dir, pkg[1].Version
}

// interopClient is one relying party registered for the interop test.
type interopClient struct {
	name       string
	id         string
	secret     string // "" for the public client
	auth       string // token_endpoint_auth_method openid-client uses
	redirect   string // sent in the authorization request
	registered string // in the config file, when it differs from redirect
	mode       string // response_mode; "" is query
	alg        string // ID token alg: the client's signingAlgorithm
	postLogout string // post_logout_redirect_uri; "" skips the logout step
	deny       bool   // the person denies consent
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// writeInteropConfig writes a config file for an instance on addr with the
// given clients and the user demo/demo.
func writeInteropConfig(t *testing.T, dir, addr string, clients []interopClient) string {
	t.Helper()
	kek := filepath.Join(dir, "foyer.kek")
	if err := os.WriteFile(kek, []byte(keys.GenerateKEK().Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hash, err := identity.HashPassword(devPassword)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `issuer: http://%s
http: {addr: "%s"}
storage: {type: sqlite, sqlite: {file: "%s"}}
keys:
  algorithms: [RS256, ES256, EdDSA]
  kek: {file: "%s"}
logging: {format: text, level: info}
users:
  - username: %s
    email: demo@example.com
    name: Demo User
    passwordHash: "%s"
    groups: [demo, developers]
clients:
`, addr, addr, filepath.Join(dir, "foyer.db"), kek, devUser, hash)
	for _, c := range clients {
		reg := c.registered
		if reg == "" {
			reg = c.redirect
		}
		fmt.Fprintf(&b, "  - id: \"%s\"\n    name: %s\n    redirectURIs: [\"%s\"]\n", c.id, c.name, reg)
		if c.secret == "" {
			b.WriteString("    public: true\n")
		} else {
			fmt.Fprintf(&b, "    secret: \"%s\"\n", c.secret)
		}
		if c.alg != "RS256" {
			fmt.Fprintf(&b, "    signingAlgorithm: %s\n", c.alg)
		}
		if c.postLogout != "" {
			fmt.Fprintf(&b, "    postLogoutRedirectURIs: [\"%s\"]\n", c.postLogout)
		}
	}
	file := filepath.Join(dir, "foyer.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestInteropNodeOpenIDClient runs the Node library openid-client (OpenID
// Certified relying party) against a real foyer: discovery, PKCE S256,
// state, nonce, RFC 9207 iss, ID token signature and claims through the
// JWKS (RS256, ES256, EdDSA), client_secret_basic, client_secret_post, a
// public client, form_post, userinfo, refresh with rotation, and
// RP-initiated logout. The test plays the browser; openid-client does the
// rest and every check it makes is its own.
func TestInteropNodeOpenIDClient(t *testing.T) {
	rpDir, version := nodeRP(t)
	t.Logf("openid-client %s", version)
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	clients := []interopClient{
		// A colon in the id and form-encoding characters in the secret: RFC
		// 6749 §2.3.1 form-encodes both before Basic, and openid-client does.
		{name: "client_secret_basic, RS256, query, logout", id: "rp:basic", secret: randomHex(t) + ":+/ %&=",
			auth: "client_secret_basic", redirect: "http://127.0.0.1:9/rp-basic/callback", alg: "RS256",
			postLogout: "http://127.0.0.1:9/rp-basic/logged-out"},
		{name: "client_secret_post, ES256", id: "rp-post", secret: randomHex(t),
			auth: "client_secret_post", redirect: "http://127.0.0.1:9/rp-post/callback", alg: "ES256"},
		{name: "public, PKCE only, EdDSA, loopback any port", id: "rp-public",
			auth: "none", redirect: "http://127.0.0.1:49152/rp-public/callback",
			registered: "http://127.0.0.1/rp-public/callback", alg: "EdDSA"},
		{name: "form_post, ES256", id: "rp-formpost", secret: randomHex(t),
			auth: "client_secret_basic", redirect: "http://127.0.0.1:9/rp-formpost/callback",
			mode: "form_post", alg: "ES256"},
		// Its own client: consent given to another would be remembered.
		{name: "consent denied", id: "rp-deny", secret: randomHex(t), auth: "client_secret_post",
			redirect: "http://127.0.0.1:9/rp-deny/callback", alg: "RS256", deny: true},
	}
	p := startFoyer(t, base, "serve", "--config", writeInteropConfig(t, dir, addr, clients))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("foyer logs:\n%s", p.logs())
		}
	})

	subs := map[string]string{}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			jar, _ := cookiejar.New(nil)
			res := runNodeRP(t, rpDir, base, c, jar)
			if c.deny {
				// openid-client checks state and iss (RFC 9207 §2.4) before
				// it surfaces the error.
				if res.Name != "AuthorizationResponseError" || res.Error != "access_denied" {
					t.Fatalf("a denied consent gave %s %q, want AuthorizationResponseError access_denied", res.Name, res.Error)
				}
				return
			}
			checkInteropResult(t, base, c, res)
			subs[c.id] = str(res.IDTokenClaims["sub"])
			if c.postLogout != "" {
				checkInteropLogout(t, base, c, res.EndSessionURL, jar)
			}
		})
	}
	first := subs[clients[0].id]
	for id, sub := range subs {
		if sub != first {
			t.Errorf("sub for %s is %q, for %s %q: one user must have one sub", id, sub, clients[0].id, first)
		}
	}
}

// rpResult is the script's last line.
type rpResult struct {
	Step                   string         `json:"step"`
	URL                    string         `json:"url"`
	TokenType              string         `json:"token_type"`
	Scope                  string         `json:"scope"`
	IDTokenHeader          map[string]any `json:"id_token_header"`
	IDTokenClaims          map[string]any `json:"id_token_claims"`
	AtHashOK               bool           `json:"at_hash_ok"`
	Userinfo               map[string]any `json:"userinfo"`
	RefreshTokenRotated    bool           `json:"refresh_token_rotated"`
	RefreshedIDTokenHeader map[string]any `json:"refreshed_id_token_header"`
	RefreshedIDTokenClaims map[string]any `json:"refreshed_id_token_claims"`
	RefreshedAtHashOK      bool           `json:"refreshed_at_hash_ok"`
	RefreshedUserinfo      map[string]any `json:"refreshed_userinfo"`
	EndSessionURL          string         `json:"end_session_url"`

	// Set when the step is "error".
	Stage string `json:"stage"`
	Name  string `json:"name"`
	Error string `json:"error"`
}

// rpCallback is what the browser brought back to the client.
type rpCallback struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Body   string `json:"body,omitempty"`
}

const interopScope = "openid email profile groups offline_access"

// runNodeRP runs rp.mjs for client c, plays the browser for the URL it
// prints, hands it the callback and returns what it accepted (or, for
// c.deny, what it refused).
func runNodeRP(t *testing.T, rpDir, base string, c interopClient, jar http.CookieJar) rpResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "rp.mjs")
	cmd.Dir = rpDir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NO_PROXY=*",
		"FOYER_ISSUER=" + base, "RP_CLIENT_ID=" + c.id, "RP_CLIENT_SECRET=" + c.secret,
		"RP_AUTH=" + c.auth, "RP_REDIRECT_URI=" + c.redirect, "RP_SCOPE=" + interopScope,
		"RP_RESPONSE_MODE=" + c.mode, "RP_ID_TOKEN_ALG=" + c.alg,
		"RP_POST_LOGOUT_REDIRECT_URI=" + c.postLogout,
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	defer stdin.Close()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	next := func(want string) rpResult {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("rp.mjs said nothing (want %s): %v\nstderr:\n%s", want, lines.Err(), stderr.String())
		}
		var r rpResult
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			t.Fatalf("rp.mjs: %v in %s\nstderr:\n%s", err, lines.Text(), stderr.String())
		}
		if r.Step != want {
			t.Fatalf("openid-client refused Foyer, or accepted what it should not (want step %s):\n%s\nstderr:\n%s", want, indentJSON(lines.Bytes()), stderr.String())
		}
		return r
	}
	auth := next("authorize")
	cb := playBrowser(t, jar, auth.URL, c.redirect, c.deny)
	line, _ := json.Marshal(cb)
	if _, err := stdin.Write(append(line, '\n')); err != nil {
		t.Fatal(err)
	}
	if c.deny {
		return next("error")
	}
	return next("done")
}

func indentJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

var (
	postFormTag = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// playBrowser follows Foyer's pages from start with a cookie jar, logs in
// as demo/demo, allows (or denies) consent, and returns what would reach redirect: the
// redirect itself (query) or the auto-submitted form (form_post). It never
// contacts redirect.
func playBrowser(t *testing.T, jar http.CookieJar, start, redirect string, deny bool) rpCallback {
	t.Helper()
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	method, target, form := http.MethodGet, start, url.Values(nil)
	askedConsent := false
	done := func(cb rpCallback) rpCallback {
		t.Helper()
		if deny && !askedConsent {
			t.Fatal("Foyer did not ask for consent, so the test could not deny it")
		}
		return cb
	}
	for range 10 {
		var resp *http.Response
		var err error
		if method == http.MethodPost {
			resp, err = browser.PostForm(target, form)
		} else {
			resp, err = browser.Get(target)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther {
			loc, err := resp.Location()
			if err != nil {
				t.Fatal(err)
			}
			if l := loc.String(); l == redirect || strings.HasPrefix(l, redirect+"?") {
				return done(rpCallback{Method: http.MethodGet, URL: l})
			}
			method, target, form = http.MethodGet, loc.String(), nil
			continue
		}
		m := postFormTag.FindStringSubmatch(body)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("%s %s: unexpected %s:\n%s", method, target, resp.Status, body)
		}
		action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		form = url.Values{}
		for _, f := range hiddenInput.FindAllStringSubmatch(body, -1) {
			form.Add(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
		}
		switch {
		case strings.Contains(body, `id="formpost"`):
			if action.String() != redirect {
				t.Fatalf("form_post page posts to %s, want %s", action, redirect)
			}
			return done(rpCallback{Method: http.MethodPost, URL: redirect, Body: form.Encode()})
		case strings.Contains(body, `name="password"`):
			form.Set("username", devUser)
			form.Set("password", devPassword)
		case strings.Contains(body, `name="decision"`):
			form.Set("decision", "allow")
			askedConsent = true
			if deny {
				form.Set("decision", "deny")
			}
		default:
			t.Fatalf("%s %s: a form this test does not know:\n%s", method, target, body)
		}
		method, target = http.MethodPost, action.String()
	}
	t.Fatalf("no response for %s after 10 pages", redirect)
	return rpCallback{}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, str(x))
	}
	return out
}

// checkInteropResult asserts what openid-client accepted is what Foyer
// promises: the right alg and key, the same sub everywhere, the claims the
// scopes release.
func checkInteropResult(t *testing.T, base string, c interopClient, r rpResult) {
	t.Helper()
	if !strings.EqualFold(r.TokenType, "bearer") {
		t.Errorf("token_type %q", r.TokenType)
	}
	for _, s := range strings.Fields(interopScope) {
		if !slices.Contains(strings.Fields(r.Scope), s) {
			t.Errorf("scope %q lacks %s", r.Scope, s)
		}
	}
	id, sub := r.IDTokenClaims, str(r.IDTokenClaims["sub"])
	if sub == "" {
		t.Fatalf("ID token has no sub: %v", id)
	}
	if alg := str(r.IDTokenHeader["alg"]); alg != c.alg || str(r.IDTokenHeader["kid"]) == "" {
		t.Errorf("ID token header %v, want alg %s and a kid", r.IDTokenHeader, c.alg)
	}
	if str(id["iss"]) != base || str(id["azp"]) != c.id {
		t.Errorf("iss %v azp %v, want %s and %s", id["iss"], id["azp"], base, c.id)
	}
	if !r.AtHashOK {
		t.Errorf("at_hash %v does not match the access token for %s", id["at_hash"], c.alg)
	}
	for what, claims := range map[string]map[string]any{
		"ID token": id, "userinfo": r.Userinfo,
		"refreshed ID token": r.RefreshedIDTokenClaims, "userinfo after refresh": r.RefreshedUserinfo,
	} {
		if claims == nil {
			t.Errorf("no %s", what)
			continue
		}
		if got := str(claims["sub"]); got != sub {
			t.Errorf("%s sub %q, want %q", what, got, sub)
		}
		if str(claims["email"]) != "demo@example.com" || claims["email_verified"] != true {
			t.Errorf("%s email %v verified %v", what, claims["email"], claims["email_verified"])
		}
		if str(claims["preferred_username"]) != devUser || str(claims["name"]) != "Demo User" {
			t.Errorf("%s preferred_username %v name %v", what, claims["preferred_username"], claims["name"])
		}
		if g := strs(claims["groups"]); !slices.Equal(g, []string{"demo", "developers"}) {
			t.Errorf("%s groups %v", what, g)
		}
	}
	if !r.RefreshTokenRotated {
		t.Error("the refresh token was not rotated")
	}
	if alg := str(r.RefreshedIDTokenHeader["alg"]); alg != c.alg {
		t.Errorf("refreshed ID token alg %s, want %s", alg, c.alg)
	}
	if !r.RefreshedAtHashOK {
		t.Errorf("refreshed at_hash %v does not match", r.RefreshedIDTokenClaims["at_hash"])
	}
}

// checkInteropLogout follows the end-session URL openid-client built, in
// the browser that logged in: Foyer must trust the id_token_hint, end the
// session without asking, and return to post_logout_redirect_uri with the
// state.
func checkInteropLogout(t *testing.T, base string, c interopClient, endSession string, jar http.CookieJar) {
	t.Helper()
	u, err := url.Parse(endSession)
	if err != nil || !strings.HasPrefix(endSession, base+"/logout?") {
		t.Fatalf("end-session URL %q is not %s/logout?…", endSession, base)
	}
	q := u.Query()
	if q.Get("client_id") != c.id || q.Get("id_token_hint") == "" || q.Get("state") == "" {
		t.Fatalf("end-session URL lacks client_id, id_token_hint or state: %s", endSession)
	}
	baseURL, _ := url.Parse(base)
	if !hasCookie(jar, baseURL, "foyer_session") {
		t.Fatal("no SSO session before logout")
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(endSession)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := c.postLogout + "?" + url.Values{"state": {q.Get("state")}}.Encode()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != want {
		t.Fatalf("logout: %s to %q, want 302 to %q\n%s", resp.Status, loc, want, body)
	}
	if hasCookie(jar, baseURL, "foyer_session") {
		t.Error("the SSO session cookie survived the logout")
	}
}

func hasCookie(jar http.CookieJar, u *url.URL, name string) bool {
	for _, c := range jar.Cookies(u) {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}
