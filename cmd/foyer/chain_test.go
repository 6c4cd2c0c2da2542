package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/internal/testenv"
)

// The chain test runs real foyer processes, each on its own loopback
// address (127.0.0.1, .2, .3) so that one browser keeps their cookies
// apart, as it would for three host names: Foyer A with static local
// users, Foyer B whose only connector is an oidc connector to A, and
// Foyer C whose only connector is an oidc connector to B.

const (
	chainUser     = "alice"
	chainPassword = "alice-password"
	// chainRedirect is the test client's redirect URI at every hop; no
	// one listens there: the browser stops at the redirect.
	chainRedirect = "http://127.0.0.1:9/cb"
)

var chainTemplate = template.Must(template.New("foyer.yaml.tmpl").Funcs(template.FuncMap{"join": strings.Join}).
	ParseFiles(filepath.Join("testdata", "chain", "foyer.yaml.tmpl")))

type chainClient struct{ ID, Secret, RedirectURI string }

type chainUserConfig struct {
	Username, Email, Name, Hash string
	Groups                      []string
}

type chainUpstream struct{ Name, Issuer, ClientID, Secret string }

// hop is one Foyer of the chain.
type hop struct {
	Issuer, Addr, Dir string
	Clients           []chainClient
	Users             []chainUserConfig
	Upstream          *chainUpstream
	proc              *process
}

func newHop(t *testing.T, host string) *hop {
	t.Helper()
	addr := freeAddrOn(t, host)
	h := &hop{Issuer: "http://" + addr, Addr: addr, Dir: t.TempDir()}
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	if err := os.WriteFile(filepath.Join(h.Dir, "foyer.kek"), []byte(base64.StdEncoding.EncodeToString(kek)), 0o600); err != nil {
		t.Fatal(err)
	}
	h.Clients = []chainClient{{ID: "test", Secret: "test-secret-" + host, RedirectURI: chainRedirect}}
	return h
}

// freeAddrOn is freeAddr on another loopback address.
func freeAddrOn(t *testing.T, host string) string {
	t.Helper()
	return testenv.FreeAddr(t, host)
}

// delegate makes down an oidc client of h, and h down's upstream.
func (h *hop) delegate(down *hop, name string) {
	secret := "downstream-secret-" + down.Addr
	h.Clients = append(h.Clients, chainClient{ID: "foyer-" + name, Secret: secret, RedirectURI: down.Issuer + "/callback/upstream"})
	down.Upstream = &chainUpstream{Name: "Upstream " + name, Issuer: h.Issuer, ClientID: "foyer-" + name, Secret: secret}
}

// start writes the config file and runs foyer serve on it.
func (h *hop) start(t *testing.T) {
	t.Helper()
	file := filepath.Join(h.Dir, "foyer.yaml")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := chainTemplate.Execute(f, h); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, errOut, code := runFoyer(t, "", "config", "check", file); code != 0 {
		t.Fatalf("config check %s: %d\n%s", file, code, errOut)
	}
	h.proc = startFoyer(t, h.Issuer, "serve", "--config", file)
}

func (h *hop) restart(t *testing.T) {
	t.Helper()
	h.proc.stop(t)
	h.start(t)
}

// chainBrowser is one person's browser: a cookie jar, redirects followed
// by hand from process to process, the login form and consent pages
// answered as they come.
type chainBrowser struct {
	t      *testing.T
	client *http.Client
	seen   []*url.URL // every URL the browser asked for
	// consent answers a consent page ("allow", "deny") by its host.
	consent func(host string) string
}

func newChainBrowser(t *testing.T) *chainBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &chainBrowser{
		t: t,
		client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		consent: func(string) string { return "allow" },
	}
}

// stop is where a walk ended: a redirect to the stop prefix (final), or a
// page the browser has no answer for.
type stop struct {
	final  *url.URL
	status int
	body   string
	at     *url.URL
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// walk goes from start until a redirect to a URL starting with until, or
// a page that is neither a redirect nor a form it knows.
func (b *chainBrowser) walk(start, until string) stop {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, start, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for range 40 {
		b.seen = append(b.seen, req.URL)
		resp, err := b.client.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(raw)
		if resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther {
			loc, err := resp.Location()
			if err != nil {
				b.t.Fatalf("%s: redirect without a location", req.URL)
			}
			if strings.HasPrefix(loc.String(), until) {
				return stop{final: loc}
			}
			req, _ = http.NewRequest(http.MethodGet, loc.String(), nil)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return stop{status: resp.StatusCode, body: body, at: req.URL}
		}
		f := fields(body)
		switch {
		case strings.Contains(body, `name="password"`):
			f.Set("username", chainUser)
			f.Set("password", chainPassword)
		case strings.Contains(body, `name="decision"`):
			f.Set("decision", b.consent(req.URL.Host))
		default:
			return stop{status: resp.StatusCode, body: body, at: req.URL}
		}
		m := formAction.FindStringSubmatch(body)
		if m == nil {
			b.t.Fatalf("%s: a form without an action:\n%s", req.URL, body)
		}
		action, err := req.URL.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
		if err != nil {
			b.t.Fatal(err)
		}
		req, _ = http.NewRequest(http.MethodPost, action.String(), strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	b.t.Fatalf("no end after 40 steps from %s; seen %v", start, b.seen)
	return stop{}
}

// chainRP is the test's relying party at one hop, built on x/oauth2 and
// go-oidc.
type chainRP struct {
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newChainRP(t *testing.T, h *hop) *chainRP {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, h.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	c := h.Clients[0]
	return &chainRP{
		cfg: oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: p.Endpoint(), RedirectURL: c.RedirectURI,
			Scopes: []string{oidc.ScopeOpenID, "email", "profile", "groups", oidc.ScopeOfflineAccess}},
		verifier: p.Verifier(&oidc.Config{ClientID: c.ID}),
	}
}

// chainClaims are the ID token claims the chain must carry.
type chainClaims struct {
	Sub               string   `json:"sub"`
	Email             string   `json:"email"`
	EmailVerified     *bool    `json:"email_verified"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
}

// login logs in with b, answering what the chain asks, and returns the
// tokens; the browser's walk is left in b.seen.
func (rp *chainRP) login(t *testing.T, b *chainBrowser) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	end := b.walk(rp.cfg.AuthCodeURL("rp-state", oauth2.S256ChallengeOption(verifier), oidc.Nonce("rp-nonce")), chainRedirect)
	if end.final == nil {
		t.Fatalf("login stopped at %s with %d:\n%s", end.at, end.status, end.body)
	}
	q := end.final.Query()
	if q.Get("state") != "rp-state" || q.Get("code") == "" {
		t.Fatalf("back at the client with %s", end.final)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claims verifies the ID token of tok and returns its claims.
func (rp *chainRP) claims(t *testing.T, tok *oauth2.Token, nonce string) chainClaims {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	var c chainClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// refresh refreshes tok at the hop.
func (rp *chainRP) refresh(tok *oauth2.Token) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return rp.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
}

func chainHash(t *testing.T) string {
	t.Helper()
	h, err := identity.HashPasswordWith(chainPassword, identity.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func wantClaims(t *testing.T, hopName string, c chainClaims, groups ...string) {
	t.Helper()
	if c.Sub == "" || c.Email != "alice@example.com" || c.EmailVerified == nil || !*c.EmailVerified ||
		c.Name != "Alice" || c.PreferredUsername != chainUser {
		t.Errorf("%s: claims %+v", hopName, c)
	}
	for _, g := range groups {
		if !slices.Contains(c.Groups, g) {
			t.Errorf("%s: groups %v, want %v among them", hopName, c.Groups, groups)
		}
	}
}

func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("%s: want invalid_grant, got %v", what, err)
	}
}

// TestChain: B starts while A is down and shows a readable page for a
// login then; a refusal at A comes back to B as a readable page; a login at
// B ends with A's user, email and groups; C → B → A works three deep; a
// replayed callback is refused; refreshes at B and C refresh upstream
// (new groups appear), and fail with invalid_grant once A no longer has
// the user.
func TestChain(t *testing.T) {
	hash := chainHash(t)
	a, b, c := newHop(t, "127.0.0.1"), newHop(t, "127.0.0.2"), newHop(t, "127.0.0.3")
	alice := chainUserConfig{Username: chainUser, Email: "alice@example.com", Name: "Alice", Hash: hash, Groups: []string{"admins", "ops"}}
	bob := chainUserConfig{Username: "bob", Email: "bob@example.com", Name: "Bob", Hash: hash, Groups: []string{"staff"}}
	a.Users = []chainUserConfig{alice, bob}
	a.delegate(b, "b")
	b.delegate(c, "c")

	// B and C start although A is down (discovery is lazy).
	b.start(t)
	c.start(t)
	rpB, rpC := newChainRP(t, b), newChainRP(t, c)
	t.Run("upstream down", func(t *testing.T) {
		end := newChainBrowser(t).walk(rpB.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), chainRedirect)
		if end.final != nil || end.status != http.StatusBadGateway || end.at.Host != b.Addr ||
			!strings.Contains(end.body, `href="/login/upstream?req=`) {
			t.Fatalf("want B's page with a retry link; got %d at %v (final %v):\n%s", end.status, end.at, end.final, end.body)
		}
	})

	a.start(t)
	rpA := newChainRP(t, a)
	t.Run("upstream refuses", func(t *testing.T) {
		br := newChainBrowser(t)
		br.consent = func(host string) string {
			if host == a.Addr {
				return "deny"
			}
			return "allow"
		}
		end := br.walk(rpB.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), chainRedirect)
		if end.final != nil || end.status != http.StatusBadGateway || end.at.Host != b.Addr || end.at.Path != "/callback/upstream" ||
			!strings.Contains(end.body, `href="/login/upstream?req=`) {
			t.Fatalf("want B's page with a retry link; got %d at %v (final %v):\n%s", end.status, end.at, end.final, end.body)
		}
	})

	direct := rpA.claims(t, rpA.login(t, newChainBrowser(t)), "rp-nonce")
	wantClaims(t, "A", direct, "admins", "ops")

	brB := newChainBrowser(t)
	tokB := rpB.login(t, brB)
	atB := rpB.claims(t, tokB, "rp-nonce")
	wantClaims(t, "B", atB, "admins", "ops")
	t.Run("replayed callback", func(t *testing.T) {
		var cb *url.URL
		for _, u := range brB.seen {
			if u.Host == b.Addr && u.Path == "/callback/upstream" {
				cb = u
			}
		}
		if cb == nil {
			t.Fatalf("the login never came back to B: %v", brB.seen)
		}
		end := brB.walk(cb.String(), chainRedirect)
		if end.final != nil || end.status < 400 || end.status >= 500 {
			t.Fatalf("a replayed callback got %d (final %v):\n%s", end.status, end.final, end.body)
		}
	})

	// Three deep, in a fresh browser: C → B → A's form, consent at each hop.
	brC := newChainBrowser(t)
	tokC := rpC.login(t, brC)
	atC := rpC.claims(t, tokC, "rp-nonce")
	wantClaims(t, "C", atC, "admins", "ops")
	var hosts []string
	for _, u := range brC.seen {
		if !slices.Contains(hosts, u.Host) {
			hosts = append(hosts, u.Host)
		}
	}
	if !slices.Equal(hosts, []string{c.Addr, b.Addr, a.Addr}) {
		t.Errorf("the browser went through %v, want C, B, A", hosts)
	}
	if direct.Sub == atB.Sub || atB.Sub == atC.Sub || direct.Sub == atC.Sub {
		t.Errorf("sub should be each hop's own user id: A %s, B %s, C %s", direct.Sub, atB.Sub, atC.Sub)
	}

	// Refresh goes up the chain: A gets a new group, B and C see it.
	alice.Groups = append(alice.Groups, "auditors")
	a.Users = []chainUserConfig{alice, bob}
	a.restart(t)
	var err error
	if tokB, err = rpB.refresh(tokB); err != nil {
		t.Fatalf("refresh at B: %v", err)
	}
	wantClaims(t, "B after refresh", rpB.claims(t, tokB, ""), "admins", "ops", "auditors")
	for i := range 2 { // twice: C keeps B's rotated refresh token
		if tokC, err = rpC.refresh(tokC); err != nil {
			t.Fatalf("refresh %d at C: %v", i+1, err)
		}
	}
	wantClaims(t, "C after refresh", rpC.claims(t, tokC, ""), "admins", "ops", "auditors")

	// Alice leaves A's config: A disables her, and B and C refuse to
	// refresh.
	a.Users = []chainUserConfig{bob}
	a.restart(t)
	_, err = rpB.refresh(tokB)
	wantInvalidGrant(t, "refresh at B", err)
	_, err = rpC.refresh(tokC)
	wantInvalidGrant(t, "refresh at C", err)

	// The logs are read once the processes have stopped (their buffers
	// are written while they run).
	for _, h := range []*hop{a, b, c} {
		h.proc.stop(t)
	}
	if !strings.Contains(b.proc.logs(), "upstream_error=access_denied") {
		t.Errorf("B did not log the upstream's error code")
	}
	if t.Failed() {
		for name, h := range map[string]*hop{"A": a, "B": b, "C": c} {
			t.Logf("%s logs:\n%s", name, h.proc.logs())
		}
	}
}
