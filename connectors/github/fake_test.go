package github_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub is a hand-written stand-in for github.com, or for a GitHub
// Enterprise Server, that follows GitHub's documented interfaces: the OAuth
// web flow (authorize page, POST /login/oauth/access_token answering JSON
// or form encoding as Accept asks, errors with status 200), and the REST
// API v3 (GET /user, /user/emails, /user/orgs, /user/teams) with its
// media type and version headers, scopes, 401 for a bad token, per_page
// and page, and Link pagination headers.
//
// As github.com it serves plain HTTP and its client rewrites requests for
// https://github.com and https://api.github.com to it (the Host header
// keeps the real name). As an Enterprise Server it serves TLS on its own
// address, with the API under /api/v3.
type fakeGitHub struct {
	t            *testing.T
	srv          *httptest.Server
	ghes         bool
	clientID     string
	clientSecret string

	mu sync.Mutex
	// callback, when set, is the app's registered callback URL: any other
	// redirect_uri is refused as GitHub does.
	callback string
	// maxPerPage caps per_page below GitHub's 100, to force several pages.
	maxPerPage int
	users      map[string]*fakeUser
	signedIn   string
	// deny, when set, is the error the authorize page answers with.
	deny string
	// expiring issues GitHub App style tokens: 8 hours, with a refresh
	// token.
	expiring  bool
	codes     map[string]fakeCode
	tokens    map[string]fakeToken // access token → grant
	refreshes map[string]fakeToken // refresh token → grant
	faults    map[string][]fault   // API path → answers to give first
	hits      map[string]int       // API path → requests
	perPage   []string             // per_page values asked for
	jsonToken int                  // token requests that asked for JSON
	grants    []string             // grant types seen at the token endpoint
}

type fakeUser struct {
	ID     int64
	Login  string
	Name   string
	Email  string // the public profile email
	Emails []fakeEmail
	Orgs   []string
	Teams  []fakeTeam
}

type fakeEmail struct {
	Address           string
	Primary, Verified bool
}

type fakeTeam struct{ Org, Slug, Name string }

type fakeCode struct{ login, redirect, scope, challenge string }

type fakeToken struct{ login, scope string }

// fault is a canned API answer.
type fault struct {
	status int
	header http.Header
	body   string
}

const (
	fakeClientID     = "Iv1.0123456789abcdef"
	fakeClientSecret = "fake-client-secret-0123456789"
)

// newFakeGitHub starts a fake github.com.
func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := newFake(t)
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeGHES starts a fake GitHub Enterprise Server on TLS and returns it
// with the path of a PEM file holding its certificate.
func newFakeGHES(t *testing.T) (*fakeGitHub, string) {
	f := newFake(t)
	f.ghes = true
	f.srv = httptest.NewUnstartedServer(f)
	// The test without rootCA makes the server log a failed handshake.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	ca := filepath.Join(t.TempDir(), "ghes-ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(ca, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return f, ca
}

func newFake(t *testing.T) *fakeGitHub {
	return &fakeGitHub{
		t: t, clientID: fakeClientID, clientSecret: fakeClientSecret, maxPerPage: 100,
		users: map[string]*fakeUser{}, codes: map[string]fakeCode{}, tokens: map[string]fakeToken{},
		refreshes: map[string]fakeToken{}, faults: map[string][]fault{}, hits: map[string]int{},
	}
}

// host is the Enterprise Server's host:port.
func (f *fakeGitHub) host() string { return f.srv.Listener.Addr().String() }

// client is an HTTP client that reaches the fake at GitHub's own URLs
// (github.com) or at its address (Enterprise, without trusting it).
func (f *fakeGitHub) client() *http.Client {
	if f.ghes {
		return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &http.Client{Transport: dotcom{addr: f.host(), next: http.DefaultTransport}}
}

// browser is the person's browser: it reaches the fake at its public
// URLs and trusts its certificate.
func (f *fakeGitHub) browser() *http.Client {
	b := f.client()
	if f.ghes {
		b = f.srv.Client()
	}
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return b
}

// dotcom sends requests for github.com and api.github.com to the fake.
type dotcom struct {
	addr string
	next http.RoundTripper
}

func (d dotcom) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "github.com" || r.URL.Host == "api.github.com" {
		if r.URL.Scheme != "https" {
			return nil, fmt.Errorf("fake github: %s over plain http", r.URL.Redacted())
		}
		r = r.Clone(r.Context())
		r.Host = r.URL.Host
		r.URL.Scheme, r.URL.Host = "http", d.addr
	}
	return d.next.RoundTrip(r)
}

// addUser adds an account and signs it in at the authorize page.
func (f *fakeGitHub) addUser(u fakeUser) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.Login] = &u
	f.signedIn = u.Login
}

// update changes an account.
func (f *fakeGitHub) update(login string, change func(*fakeUser)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.users[login])
}

// revoke deletes every token of an account (the user revoked the app).
func (f *fakeGitHub) revoke(login string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range f.tokens {
		if v.login == login {
			delete(f.tokens, k)
		}
	}
	for k, v := range f.refreshes {
		if v.login == login {
			delete(f.refreshes, k)
		}
	}
}

// fail queues answers for an API path, given before the real ones.
func (f *fakeGitHub) fail(path string, fs ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[path] = append(f.faults[path], fs...)
}

func (f *fakeGitHub) set(change func(*fakeGitHub)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeGitHub) hitCount(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	web, api, prefix := "github.com", "api.github.com", ""
	if f.ghes {
		web, api, prefix = f.host(), f.host(), "/api/v3"
	}
	switch {
	case r.Host == web && r.URL.Path == "/login/oauth/authorize":
		f.authorize(w, r)
	case r.Host == web && r.URL.Path == "/login/oauth/access_token":
		f.accessToken(w, r)
	case r.Host == api && strings.HasPrefix(r.URL.Path, prefix+"/"):
		f.api(w, r, prefix)
	default:
		f.t.Errorf("fake github: unexpected %s %s%s", r.Method, r.Host, r.URL.Path)
		http.NotFound(w, r)
	}
}

func newSecret(prefix string) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// authorize is the page where the signed-in user approves the app; it
// redirects back at once.
func (f *fakeGitHub) authorize(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	if r.Method != http.MethodGet || q.Get("client_id") != f.clientID {
		http.NotFound(w, r)
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		redirect = f.callback
	}
	back := func(target string, v url.Values) {
		u, err := url.Parse(target)
		if err != nil {
			http.Error(w, "bad redirect_uri", http.StatusBadRequest)
			return
		}
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		uq := u.Query()
		for k, vs := range v {
			uq[k] = vs
		}
		u.RawQuery = uq.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if f.callback != "" && redirect != f.callback {
		back(f.callback, url.Values{
			"error":             {"redirect_uri_mismatch"},
			"error_description": {"The redirect_uri MUST match the registered callback URL for this application."},
			"error_uri":         {"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch"},
		})
		return
	}
	if c := q.Get("code_challenge"); c != "" && q.Get("code_challenge_method") != "S256" {
		http.Error(w, "code_challenge_method must be S256", http.StatusBadRequest)
		return
	}
	if f.deny != "" {
		back(redirect, url.Values{"error": {f.deny}, "error_description": {"The user has denied your application access."}})
		return
	}
	code := newSecret("")[:20]
	f.codes[code] = fakeCode{login: f.signedIn, redirect: redirect, scope: normScope(q.Get("scope")), challenge: q.Get("code_challenge")}
	back(redirect, url.Values{"code": {code}})
}

// normScope turns a space or comma separated scope list into GitHub's
// sorted, comma-separated form.
func normScope(s string) string {
	list := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	slices.Sort(list)
	return strings.Join(slices.Compact(list), ",")
}

func hasScope(granted string, want ...string) bool {
	for sc := range strings.SplitSeq(granted, ",") {
		if slices.Contains(want, sc) {
			return true
		}
	}
	return false
}

// accessToken is POST /login/oauth/access_token: code or refresh token for
// an access token. Like GitHub, it reports errors with status 200.
func (f *fakeGitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.NotFound(w, r)
		return
	}
	asJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
	if asJSON {
		f.jsonToken++
	}
	fail := func(code, desc string) {
		tokenReply(w, asJSON, map[string]string{"error": code, "error_description": desc,
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"})
	}
	if r.PostForm.Get("client_id") != f.clientID || r.PostForm.Get("client_secret") != f.clientSecret {
		fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	grant := r.PostForm.Get("grant_type")
	f.grants = append(f.grants, grant)
	var login, scope string
	switch grant {
	case "", "authorization_code":
		code := r.PostForm.Get("code")
		c, ok := f.codes[code]
		delete(f.codes, code)
		if !ok {
			fail("bad_verification_code", "The code passed is incorrect or expired.")
			return
		}
		if ru := r.PostForm.Get("redirect_uri"); ru != "" && ru != c.redirect {
			fail("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
			return
		}
		if c.challenge != "" {
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
				fail("bad_verification_code", "The code_verifier does not match the code_challenge.")
				return
			}
		}
		login, scope = c.login, c.scope
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		g, ok := f.refreshes[rt]
		delete(f.refreshes, rt)
		if !ok || !f.expiring {
			fail("bad_refresh_token", "The refresh token passed is incorrect or expired.")
			return
		}
		login, scope = g.login, g.scope
	default:
		fail("unsupported_grant_type", "The grant type is not supported.")
		return
	}
	v := map[string]string{"token_type": "bearer", "scope": scope}
	if f.expiring {
		v["access_token"] = newSecret("ghu_")
		v["expires_in"] = "28800"
		v["refresh_token"] = newSecret("ghr_")
		v["refresh_token_expires_in"] = "15811200"
		v["scope"] = ""
		f.refreshes[v["refresh_token"]] = fakeToken{login: login}
	} else {
		v["access_token"] = newSecret("gho_")
	}
	f.tokens[v["access_token"]] = fakeToken{login: login, scope: v["scope"]}
	tokenReply(w, asJSON, v)
}

func tokenReply(w http.ResponseWriter, asJSON bool, v map[string]string) {
	if !asJSON {
		form := url.Values{}
		for k, s := range v {
			form.Set(k, s)
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(form.Encode()))
		return
	}
	out := map[string]any{}
	for k, s := range v {
		if n, err := strconv.Atoi(s); err == nil && strings.HasSuffix(k, "expires_in") {
			out[k] = n
		} else {
			out[k] = s
		}
	}
	writeJSON(w, http.StatusOK, out)
}
