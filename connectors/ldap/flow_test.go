package ldap_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/ldap"
	"github.com/foyerid/foyer/gateway"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/keys"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// End-to-end tests of issue 6: a real slapd, a real gateway on a loopback
// listener, and a browser (a cookie jar) or a command-line client talking
// OIDC to it; ID tokens are checked with coreos/go-oidc.

// flowLDIF: the service account, three people, and groups with one
// nested: engineering ∋ developers ∋ alice, bob; admins ∋ alice.
var flowLDIF = `dn: cn=foyer,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: foyer
userPassword: service-pw

` + person("alice", "Alice Liddell") + person("bob", "Bob Builder") + person("carol", "Carol Singer") +
	`dn: cn=developers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: developers
member: uid=alice,ou=people,dc=example,dc=org
member: uid=bob,ou=people,dc=example,dc=org

dn: cn=engineering,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: engineering
member: cn=developers,ou=groups,dc=example,dc=org

dn: cn=admins,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=org
`

// person is the LDIF of uid=<uid>,ou=people with mail <uid>@example.org
// and password <uid>-pw.
func person(uid, cn string) string {
	return fmt.Sprintf("dn: uid=%[1]s,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: %[1]s\n"+
		"cn: %[2]s\nsn: %[2]s\nmail: %[1]s@example.org\nuserPassword: %[1]s-pw\n\n", uid, cn)
}

const scopes = "openid email profile groups offline_access"

// flowDirectory starts slapd loaded with flowLDIF.
func flowDirectory(t *testing.T) *testenv.SlapdServer {
	t.Helper()
	s := testenv.Slapd(t)
	s.Add(t, flowLDIF)
	return s
}

// flowConfig connects with StartTLS on the plain port, or over LDAPS,
// trusting the test CA either way.
func flowConfig(s *testenv.SlapdServer, ldaps bool) ldap.Config {
	cfg := ldap.Config{
		Hosts: []string{s.Addr}, StartTLS: true, RootCAData: string(s.CAPEM),
		BindDN: "cn=foyer,dc=example,dc=org", BindPassword: "service-pw",
		UserSearch: ldap.UserSearch{
			BaseDN: "ou=people,dc=example,dc=org", Filter: "(objectClass=inetOrgPerson)",
			Username: "uid", IDAttr: "entryUUID", EmailVerified: true,
		},
		GroupSearch: ldap.GroupSearch{
			BaseDN: "ou=groups,dc=example,dc=org", Filter: "(objectClass=groupOfNames)",
			UserMatchers: []ldap.UserMatcher{{UserAttr: "DN", GroupAttr: "member"}},
			Nested:       true,
		},
	}
	if ldaps {
		cfg.Hosts, cfg.StartTLS = []string{s.TLSAddr}, false
	}
	return cfg
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// foyer is a gateway with the ldap connector, its own memory store, and
// two confidential clients: "web" (authorization code and refresh) and
// "cli" (password and refresh).
type foyer struct {
	t        *testing.T
	issuer   string
	logs     *syncBuffer
	provider *oidc.Provider
}

func newFoyer(t *testing.T, cfg ldap.Config) *foyer {
	t.Helper()
	ctx := context.Background()
	f := &foyer{t: t, logs: &syncBuffer{}}
	logger := slog.New(slog.NewJSONHandler(f.logs, nil))
	store := memory.New()
	km, err := keys.NewManager(store, keys.GenerateKEK(), keys.Options{TokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := ldap.Open(cfg, connectors.Env{ID: "ldap", Logger: logger.With("connector_id", "ldap")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	f.issuer = "http://" + srv.Listener.Addr().String()
	gw, err := gateway.New(gateway.Options{
		Issuer: f.issuer, Directory: store, State: store, Keys: km,
		Connectors: []gateway.Connector{{ID: "ldap", Type: ldap.TypeName, Name: "Directory", Impl: conn, Policy: identity.Policy{Signup: true}}},
		Linker:     identity.NewLinker(store, nil, logger),
		FlowKey:    bytes.Repeat([]byte("k"), 32),
		Logger:     logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gw.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", f.logs)
		}
	})
	for _, c := range []storage.Client{
		{ID: "web", RedirectURIs: []string{"https://web.example/cb"}},
		{ID: "cli", RedirectURIs: []string{"https://cli.example/cb"}, GrantTypes: []string{"password", "refresh_token"}},
	} {
		c.SecretHash = gateway.HashClientSecret("secret-" + c.ID)
		if err := store.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if f.provider, err = oidc.NewProvider(ctx, f.issuer); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return f
}

// page is one HTTP answer as a browser sees it.
type page struct {
	status int
	url    *url.URL
	loc    *url.URL // the resolved Location, if any
	body   string
}

func (f *foyer) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request (a POST when form is not nil) and follows redirects
// while they stay on Foyer.
func (f *foyer) do(b *http.Client, target string, form url.Values) page {
	f.t.Helper()
	for range 10 {
		method, body := http.MethodGet, io.Reader(nil)
		if form != nil {
			method, body = http.MethodPost, strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, target, body)
		if err != nil {
			f.t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := b.Do(req)
		if err != nil {
			f.t.Fatalf("%s %s: %v", method, req.URL.Path, err)
		}
		data, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil {
			f.t.Fatal(err)
		}
		p := page{status: res.StatusCode, url: req.URL, body: string(data)}
		if l := res.Header.Get("Location"); l != "" {
			p.loc, _ = req.URL.Parse(l)
		}
		if p.loc == nil || !strings.HasPrefix(p.loc.String(), f.issuer+"/") {
			return p
		}
		target, form = p.loc.String(), nil
	}
	f.t.Fatalf("too many redirects from %s", target)
	return page{}
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b[^>]*\baction="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b[^>]*\btype="hidden"[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"`)
	alertRE = regexp.MustCompile(`(?is)<p class="error" role="alert"[^>]*>(.*?)</p>`)
)

// submit posts p's form with its hidden fields and fields.
func (f *foyer) submit(b *http.Client, p page, fields url.Values) page {
	f.t.Helper()
	m := formRE.FindStringSubmatch(p.body)
	if m == nil {
		f.t.Fatalf("%s (status %d): no form in\n%s", p.url.Path, p.status, p.body)
	}
	action, err := p.url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		f.t.Fatal(err)
	}
	form := url.Values{}
	for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
		form.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	return f.do(b, action.String(), form)
}

// alert is the login form's error message.
func alert(p page) string {
	if m := alertRE.FindStringSubmatch(p.body); m != nil {
		return strings.TrimSpace(html.UnescapeString(m[1]))
	}
	return ""
}

func isLoginForm(p page) bool {
	return p.status != http.StatusFound && strings.Contains(p.body, `name="password"`)
}

// authRequest is a started authorization request.
type authRequest struct {
	state, nonce, verifier string
}

// loginForm starts an authorization request for "web" and returns the
// LDAP login form.
func (f *foyer) loginForm(b *http.Client) (page, authRequest) {
	f.t.Helper()
	ar := authRequest{state: storage.NewID(), nonce: storage.NewID(), verifier: storage.NewSecret()}
	sum := sha256.Sum256([]byte(ar.verifier))
	q := url.Values{
		"client_id": {"web"}, "redirect_uri": {"https://web.example/cb"}, "response_type": {"code"},
		"scope": {scopes}, "state": {ar.state}, "nonce": {ar.nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	// With one connector, no chooser: straight to its form.
	p := f.do(b, f.issuer+"/authorize?"+q.Encode(), nil)
	if !isLoginForm(p) {
		f.t.Fatalf("authorize: status %d at %s, want the login form:\n%s", p.status, p.url, p.body)
	}
	return p, ar
}

// browserLogin logs username in through the whole browser flow (login
// form, consent) and redeems the code: it returns the token response.
func (f *foyer) browserLogin(username, password string) (map[string]any, authRequest) {
	f.t.Helper()
	b := f.browser()
	p, ar := f.loginForm(b)
	p = f.submit(b, p, url.Values{"username": {username}, "password": {password}})
	if strings.Contains(p.body, `name="decision"`) {
		p = f.submit(b, p, url.Values{"decision": {"allow"}})
	}
	if p.loc == nil || !strings.HasPrefix(p.loc.String(), "https://web.example/cb?") {
		f.t.Fatalf("login as %s: status %d at %s (alert %q), want the redirect to the client", username, p.status, p.url, alert(p))
	}
	q := p.loc.Query()
	if q.Get("state") != ar.state || q.Get("code") == "" {
		f.t.Fatalf("authorization response %v: want a code and state %q", q, ar.state)
	}
	status, tok := f.token("web", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {"https://web.example/cb"}, "code_verifier": {ar.verifier}})
	if status != http.StatusOK {
		f.t.Fatalf("code exchange: %d %v", status, tok)
	}
	return tok, ar
}

// token posts form to the token endpoint as client (HTTP Basic).
func (f *foyer) token(client string, form url.Values) (int, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, "secret-"+client)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		f.t.Fatalf("token endpoint answered %d without JSON: %v", res.StatusCode, err)
	}
	return res.StatusCode, out
}

func (f *foyer) passwordGrant(client, username, password string) (int, map[string]any) {
	f.t.Helper()
	return f.token(client, url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}, "scope": {scopes}})
}

func (f *foyer) refresh(client string, tok map[string]any) (int, map[string]any) {
	f.t.Helper()
	rt, _ := tok["refresh_token"].(string)
	if rt == "" {
		f.t.Fatalf("no refresh token in %v", tok)
	}
	return f.token(client, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	Sub           string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	Username      string   `json:"preferred_username"`
	Groups        []string `json:"groups"`
}

// verify checks tok's ID token with go-oidc for client, and its nonce
// when one is given.
func (f *foyer) verify(client string, tok map[string]any, nonce string) idClaims {
	f.t.Helper()
	raw, _ := tok["id_token"].(string)
	id, err := f.provider.Verifier(&oidc.Config{ClientID: client}).Verify(context.Background(), raw)
	if err != nil {
		f.t.Fatalf("verify ID token: %v", err)
	}
	if nonce != "" && id.Nonce != nonce {
		f.t.Errorf("nonce %q, want %q", id.Nonce, nonce)
	}
	var c idClaims
	if err := id.Claims(&c); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// logged reports whether a record at level with connector_id ldap has an
// err containing errText.
func (f *foyer) logged(level slog.Level, errText string) bool {
	for line := range strings.Lines(f.logs.String()) {
		var rec struct {
			Level       string `json:"level"`
			ConnectorID string `json:"connector_id"`
			Err         string `json:"err"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == level.String() &&
			rec.ConnectorID == "ldap" && strings.Contains(rec.Err, errText) {
			return true
		}
	}
	return false
}

func wantGroups(t *testing.T, c idClaims, want ...string) {
	t.Helper()
	got := slices.Clone(c.Groups)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("groups %v, want %v", c.Groups, want)
	}
}

func wantTokenError(t *testing.T, status int, tok map[string]any, wantStatus int, code string) {
	t.Helper()
	if status != wantStatus || tok["error"] != code {
		t.Errorf("token endpoint: %d %v, want %d %s", status, tok, wantStatus, code)
	}
}

// TestFlowBrowser logs in through the whole OIDC flow over StartTLS and
// over LDAPS, and checks that LDAP filter syntax typed as a username gets
// the same answer as any wrong login.
func TestFlowBrowser(t *testing.T) {
	t.Parallel()
	s := flowDirectory(t)
	for _, tt := range []struct {
		name  string
		ldaps bool
	}{{name: "starttls"}, {name: "ldaps", ldaps: true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFoyer(t, flowConfig(s, tt.ldaps))
			tok, ar := f.browserLogin("alice", "alice-pw")
			c := f.verify("web", tok, ar.nonce)
			if c.Email != "alice@example.org" || !c.EmailVerified || c.Name != "Alice Liddell" || c.Username != "alice" {
				t.Errorf("claims %+v", c)
			}
			wantGroups(t, c, "admins", "developers", "engineering") // engineering through developers
			// The same person through the password grant is the same user.
			status, cli := f.passwordGrant("cli", "alice", "alice-pw")
			if status != http.StatusOK {
				t.Fatalf("password grant: %d %v", status, cli)
			}
			if sub := f.verify("cli", cli, "").Sub; sub != c.Sub {
				t.Errorf("password grant sub %q, browser sub %q", sub, c.Sub)
			}
		})
	}
	t.Run("wrong logins", func(t *testing.T) {
		t.Parallel()
		f := newFoyer(t, flowConfig(s, false))
		for _, tc := range []struct{ name, username, password string }{
			{name: "wrong password", username: "alice", password: "bob-pw"},
			{name: "unknown user", username: "mallory", password: "alice-pw"},
			{name: "star", username: "*", password: "alice-pw"},
			{name: "parentheses", username: ")(", password: "alice-pw"},
			{name: "filter injection", username: "alice)(uid=*", password: "alice-pw"},
			{name: "or injection", username: "*)(|(objectClass=*", password: "bob-pw"},
			{name: "escaped nul", username: `alice\00`, password: "alice-pw"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := f.browser()
				p, _ := f.loginForm(b)
				p = f.submit(b, p, url.Values{"username": {tc.username}, "password": {tc.password}})
				if p.status != http.StatusUnauthorized || alert(p) != "Incorrect username or password." || !isLoginForm(p) {
					t.Errorf("status %d, alert %q: want 401 and the generic message on the login form", p.status, alert(p))
				}
			})
		}
	})
}

// TestFlowPasswordGrantAndRefresh: the password grant for a client allowed
// it; refresh follows the directory (groups changed, user deleted).
func TestFlowPasswordGrantAndRefresh(t *testing.T) {
	t.Parallel()
	s := flowDirectory(t)
	f := newFoyer(t, flowConfig(s, true))

	status, tok := f.passwordGrant("web", "bob", "bob-pw")
	wantTokenError(t, status, tok, http.StatusBadRequest, "unauthorized_client")
	status, tok = f.passwordGrant("cli", "bob", "alice-pw")
	wantTokenError(t, status, tok, http.StatusBadRequest, "invalid_grant")
	status, tok = f.passwordGrant("cli", "*", "bob-pw")
	wantTokenError(t, status, tok, http.StatusBadRequest, "invalid_grant")

	status, bob := f.passwordGrant("cli", "bob", "bob-pw")
	if status != http.StatusOK {
		t.Fatalf("password grant: %d %v", status, bob)
	}
	c := f.verify("cli", bob, "")
	if c.Email != "bob@example.org" || c.Name != "Bob Builder" {
		t.Errorf("claims %+v", c)
	}
	wantGroups(t, c, "developers", "engineering")
	carolTok, _ := f.browserLogin("carol", "carol-pw")
	wantGroups(t, f.verify("web", carolTok, ""))

	// Groups change in the directory: bob leaves developers (and so
	// engineering) and joins admins; carol joins developers.
	s.Add(t, `dn: cn=developers,ou=groups,dc=example,dc=org
changetype: modify
delete: member
member: uid=bob,ou=people,dc=example,dc=org
-
add: member
member: uid=carol,ou=people,dc=example,dc=org

dn: cn=admins,ou=groups,dc=example,dc=org
changetype: modify
add: member
member: uid=bob,ou=people,dc=example,dc=org
`)
	status, bob = f.refresh("cli", bob)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, bob)
	}
	wantGroups(t, f.verify("cli", bob, ""), "admins")
	status, carolTok = f.refresh("web", carolTok)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, carolTok)
	}
	wantGroups(t, f.verify("web", carolTok, ""), "developers", "engineering")

	// Bob leaves the directory: his refresh fails, carol's still works.
	s.Delete(t, "uid=bob,ou=people,dc=example,dc=org")
	status, tok = f.refresh("cli", bob)
	wantTokenError(t, status, tok, http.StatusBadRequest, "invalid_grant")
	status, tok = f.passwordGrant("cli", "bob", "bob-pw")
	wantTokenError(t, status, tok, http.StatusBadRequest, "invalid_grant")
	if status, tok = f.refresh("web", carolTok); status != http.StatusOK {
		t.Errorf("carol's refresh: %d %v", status, tok)
	}
}

// TestFlowDirectoryDown: with the directory stopped, the login form says
// so (503, no 500) and the password grant answers
// temporarily_unavailable; once it is back, both work again.
func TestFlowDirectoryDown(t *testing.T) {
	t.Parallel()
	s := flowDirectory(t)
	f := newFoyer(t, flowConfig(s, false))
	status, tok := f.passwordGrant("cli", "alice", "alice-pw")
	if status != http.StatusOK {
		t.Fatalf("password grant: %d %v", status, tok)
	}

	s.Stop(t)
	b := f.browser()
	p, _ := f.loginForm(b) // showing the form needs no directory
	p = f.submit(b, p, url.Values{"username": {"alice"}, "password": {"alice-pw"}})
	if p.status != http.StatusServiceUnavailable || !strings.Contains(alert(p), "not possible right now") || !isLoginForm(p) {
		t.Errorf("login with the directory down: status %d, alert %q; want 503 and the login form saying it is not possible right now", p.status, alert(p))
	}
	if !f.logged(slog.LevelError, ldap.ErrUnavailable.Error()) {
		t.Errorf("no error logged with connector_id ldap and the unavailable directory")
	}
	status, got := f.passwordGrant("cli", "alice", "alice-pw")
	wantTokenError(t, status, got, http.StatusServiceUnavailable, "temporarily_unavailable")
	status, got = f.refresh("cli", tok)
	wantTokenError(t, status, got, http.StatusServiceUnavailable, "temporarily_unavailable")

	s.Start(t)
	// The refresh token that met the outage was not spent.
	if status, got = f.refresh("cli", tok); status != http.StatusOK {
		t.Errorf("refresh after the restart: %d %v", status, got)
	}
	if status, got = f.passwordGrant("cli", "alice", "alice-pw"); status != http.StatusOK {
		t.Errorf("password grant after the restart: %d %v", status, got)
	}
	// A login form shown while the directory was down works once it is back.
	p = f.submit(b, p, url.Values{"username": {"alice"}, "password": {"alice-pw"}})
	if strings.Contains(p.body, `name="decision"`) {
		p = f.submit(b, p, url.Values{"decision": {"allow"}})
	}
	if p.loc == nil || p.loc.Query().Get("code") == "" {
		t.Errorf("login after the restart: status %d at %s (alert %q), want a code", p.status, p.url, alert(p))
	}
	tok, ar := f.browserLogin("alice", "alice-pw")
	wantGroups(t, f.verify("web", tok, ar.nonce), "admins", "developers", "engineering")
}
