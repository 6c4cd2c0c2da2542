package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/internal/testenv"
)

// The scale-out tests run Foyer as a real deployment would: one
// `serve --role housekeeping` and two `serve --role public` processes on
// one PostgreSQL database (the directory) and one redis-server (sessions
// and keys), the public workers behind a load balancer the test runs, whose
// URL is everyone's issuer. A request goes to the worker named in its
// X-Test-Worker header, or round-robin.

const (
	lbWorkerHeader = "X-Test-Worker"
	soClientID     = "app"
	soClientSecret = "app-secret-for-the-scale-out-tests"
	// soDeadline bounds every wait for something that happens within a
	// few key reload intervals (5s each).
	soDeadline = 30 * time.Second
)

var soTemplate = template.Must(template.ParseFiles(filepath.Join("testdata", "scaleout", "foyer.yaml.tmpl")))

// scaleOutPostgres creates a throwaway database on the test PostgreSQL
// (FOYER_TEST_POSTGRES_URL, or the standard local port), drops it when t
// ends, and returns its URL. With no server it fails under CI=true and
// skips loudly elsewhere.
func scaleOutPostgres(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("FOYER_TEST_POSTGRES_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=5"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI: %v", err)
		}
		t.Skipf("SKIPPING scale-out tests: no PostgreSQL (set FOYER_TEST_POSTGRES_URL): %v", err)
	}
	defer conn.Close(ctx)
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "foyer_scaleout_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("FOYER_TEST_POSTGRES_URL must be a URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// loadBalancer is the test's reverse proxy in front of the public workers.
type loadBalancer struct {
	*httptest.Server
	backends []*url.URL // worker n is backends[n-1]
	next     atomic.Uint64
	mu       sync.Mutex
	served   []lbHit
}

// lbHit is one request the load balancer passed on.
type lbHit struct {
	worker       int
	method, path string
}

func newLoadBalancer(t *testing.T, addrs ...string) *loadBalancer {
	t.Helper()
	lb := &loadBalancer{}
	for _, a := range addrs {
		lb.backends = append(lb.backends, &url.URL{Scheme: "http", Host: a})
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		n, err := strconv.Atoi(pr.In.Header.Get(lbWorkerHeader))
		if err != nil || n < 1 || n > len(lb.backends) {
			n = int(lb.next.Add(1)%uint64(len(lb.backends))) + 1
		}
		pr.SetURL(lb.backends[n-1])
		pr.Out.Host = pr.In.Host // the issuer's host, as behind a real load balancer
		pr.Out.Header.Del(lbWorkerHeader)
		lb.mu.Lock()
		lb.served = append(lb.served, lbHit{n, pr.In.Method, pr.In.URL.Path})
		lb.mu.Unlock()
	}}
	lb.Server = httptest.NewServer(proxy)
	t.Cleanup(lb.Close)
	return lb
}

// workersFor returns the workers that served method path, in order.
func (lb *loadBalancer) workersFor(method, path string) []int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var out []int
	for _, h := range lb.served {
		if h.method == method && h.path == path {
			out = append(out, h.worker)
		}
	}
	return out
}

// routeTransport sends each request to the worker its function names.
type routeTransport func(*http.Request) int

func (f routeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(lbWorkerHeader, strconv.Itoa(f(r)))
	return http.DefaultTransport.RoundTrip(r)
}

// pinned returns a context whose oauth2 and go-oidc calls go to worker n.
func pinned(n int) context.Context {
	c := &http.Client{Timeout: 30 * time.Second, Transport: routeTransport(func(*http.Request) int { return n })}
	return oidc.ClientContext(context.Background(), c)
}

// soWorker is one foyer serve process of the deployment.
type soWorker struct {
	name, role, httpAddr, adminAddr, file string
	proc                                  *process
	exited                                chan struct{} // closed when proc has exited
}

// base is where the worker answers /readyz: its public listener, or the
// admin address for the housekeeping role, which has none.
func (w *soWorker) base() string {
	if w.role == roleHousekeeping {
		return "http://" + w.adminAddr
	}
	return "http://" + w.httpAddr
}

// scaleOut is one deployment: hk (housekeeping), hk2 (a standby
// housekeeping worker), w1 and w2 (public, load balancer workers 1 and 2).
type scaleOut struct {
	dir      string
	redis    *testenv.RedisServer
	lb       *loadBalancer
	hk, hk2  *soWorker
	w1, w2   *soWorker
	rp       oauth2.Config
	provider *oidc.Provider
}

// newScaleOut prepares a deployment (database, redis-server started with
// redisArgs, load balancer, one config file per worker) without starting
// any worker.
func newScaleOut(t *testing.T, redisArgs ...string) *scaleOut {
	t.Helper()
	pg := scaleOutPostgres(t)
	s := &scaleOut{dir: t.TempDir(), redis: testenv.StartRedis(t, redisArgs...)}
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	for name, v := range map[string]string{"foyer.kek": base64.StdEncoding.EncodeToString(kek), "admin-token": "admin-token-for-tests-at-least-32-characters"} {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.hk = &soWorker{name: "hk", role: roleHousekeeping}
	s.hk2 = &soWorker{name: "hk2", role: roleHousekeeping}
	s.w1 = &soWorker{name: "w1", role: rolePublic}
	s.w2 = &soWorker{name: "w2", role: rolePublic}
	for _, w := range []*soWorker{s.hk, s.hk2, s.w1, s.w2} {
		w.httpAddr, w.adminAddr = freeAddr(t), freeAddr(t)
	}
	s.lb = newLoadBalancer(t, s.w1.httpAddr, s.w2.httpAddr)
	hash := chainHash(t)
	for _, w := range []*soWorker{s.hk, s.hk2, s.w1, s.w2} {
		w.file = filepath.Join(s.dir, w.name+".yaml")
		f, err := os.Create(w.file)
		if err != nil {
			t.Fatal(err)
		}
		err = soTemplate.Execute(f, map[string]string{
			"Issuer": s.lb.URL, "HTTPAddr": w.httpAddr, "AdminAddr": w.adminAddr, "Dir": s.dir,
			"PostgresURL": pg, "RedisAddr": s.redis.Addr, "Hash": hash, "Username": chainUser,
			"ClientID": soClientID, "ClientSecret": soClientSecret, "RedirectURI": chainRedirect,
		})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := runFoyer(t, "", "config", "check", s.w1.file); code != 0 {
		t.Fatalf("config check: %d\n%s", code, errOut)
	}
	return s
}

// start starts the workers at once, as a fleet rolled out together would,
// and waits until each is ready. Once both public workers run, the test's
// relying party discovers the issuer.
func (s *scaleOut) start(t *testing.T, ws ...*soWorker) {
	t.Helper()
	for _, w := range ws {
		w.launch(t)
	}
	deadline := time.Now().Add(soDeadline)
	for _, w := range ws {
		// Only this worker's answer counts: another server could hold its
		// port if it failed to bind, so it must also have logged that it
		// listens.
		ready := func() bool {
			return statusOf(w.base()+"/readyz") == http.StatusOK && strings.Contains(w.proc.stderr.String(), "listening")
		}
		if !pollUntil(deadline, func() bool { return !w.alive() || ready() }) || !w.alive() {
			t.Fatalf("%s did not become ready", w.name)
		}
	}
	if s.provider == nil && s.w1.proc != nil && s.w2.proc != nil {
		p, err := oidc.NewProvider(context.Background(), s.lb.URL)
		if err != nil {
			t.Fatal(err)
		}
		s.provider = p
		s.rp = oauth2.Config{ClientID: soClientID, ClientSecret: soClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: chainRedirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess}}
	}
}

// launch starts the worker's process without waiting for it; t's cleanup
// kills it and, if t failed, logs what it wrote.
func (w *soWorker) launch(t *testing.T) {
	t.Helper()
	p := &process{stdout: &syncBuffer{}, stderr: &syncBuffer{}, base: w.base()}
	p.cmd = exec.Command(foyerBin, "serve", "--config", w.file, "--role", w.role)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.proc, w.exited = p, make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(w.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-w.exited
		if t.Failed() {
			t.Logf("logs of %s (%s):\n%s", w.name, p.cmd.ProcessState, p.logs())
		}
	})
}

// alive reports whether the worker's process is still running.
func (w *soWorker) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (w *soWorker) stop(t *testing.T) {
	t.Helper()
	if err := w.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.exited:
	case <-time.After(soDeadline):
		t.Fatalf("%s did not stop on SIGTERM", w.name)
	}
	if !w.proc.cmd.ProcessState.Success() {
		t.Errorf("%s exited with %v", w.name, w.proc.cmd.ProcessState)
	}
}

// pollUntil calls cond every 50ms until it holds or deadline passes.
func pollUntil(deadline time.Time, cond func() bool) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// statusOf GETs u and returns the status code, 0 when nothing answers.
func statusOf(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// readyz is a decoded /readyz answer.
type readyz struct {
	status   int
	Ready    bool              `json:"ready"`
	Checks   map[string]string `json:"checks"`
	Warnings []string          `json:"warnings"`
}

func getReadyz(t *testing.T, base string) readyz {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("GET %s/readyz: %v", base, err)
	}
	defer resp.Body.Close()
	r := readyz{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET %s/readyz: %v", base, err)
	}
	return r
}

// browser is a browser whose GETs go to worker get and POSTs to worker
// post, through the load balancer.
func (s *scaleOut) browser(t *testing.T, get, post int) *chainBrowser {
	b := newChainBrowser(t)
	b.client.Transport = routeTransport(func(r *http.Request) int {
		if r.Method == http.MethodPost {
			return post
		}
		return get
	})
	return b
}

// code logs in with b and returns the code and the PKCE verifier.
func (s *scaleOut) code(t *testing.T, b *chainBrowser) (string, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	end := b.walk(s.rp.AuthCodeURL("so-state", oauth2.S256ChallengeOption(verifier), oidc.Nonce("so-nonce")), chainRedirect)
	if end.final == nil {
		t.Fatalf("login stopped at %s with %d:\n%s", end.at, end.status, end.body)
	}
	if q := end.final.Query(); q.Get("state") != "so-state" || q.Get("code") == "" {
		t.Fatalf("back at the client with %s", end.final)
	}
	return end.final.Query().Get("code"), verifier
}

// exchange redeems a code at worker n.
func (s *scaleOut) exchange(t *testing.T, n int, code, verifier string) *oauth2.Token {
	t.Helper()
	tok, err := s.rp.Exchange(pinned(n), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code at worker %d: %v", n, err)
	}
	return tok
}

// refresh refreshes tok at worker n.
func (s *scaleOut) refresh(t *testing.T, n int, tok *oauth2.Token) *oauth2.Token {
	t.Helper()
	next, err := s.rp.TokenSource(pinned(n), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh at worker %d: %v", n, err)
	}
	return next
}

// userinfo asks worker n for the user behind tok's access token.
func (s *scaleOut) userinfo(t *testing.T, n int, tok *oauth2.Token) string {
	t.Helper()
	ui, err := s.provider.UserInfo(pinned(n), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo at worker %d: %v", n, err)
	}
	return ui.Subject
}

// idToken verifies tok's ID token as the relying party does (JWKS through
// the load balancer) and returns its subject.
func (s *scaleOut) idToken(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := s.provider.Verifier(&oidc.Config{ClientID: soClientID}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	return idt.Subject
}

// jwks fetches a worker's JWKS straight from its listener.
func jwks(t *testing.T, w *soWorker) (body []byte, etag string) {
	t.Helper()
	resp, err := http.Get("http://" + w.httpAddr + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/jwks: %s %v", w.name, resp.Status, err)
	}
	return body, resp.Header.Get("ETag")
}

// kids lists the key ids of a JWKS document.
func kids(t *testing.T, body []byte) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// verifyWith checks a JWS against a JWKS document and returns its key id.
func verifyWith(t *testing.T, body []byte, token, what string) string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) == 0 {
		t.Fatalf("%s: key %s is not in the JWKS", what, kid)
	}
	if _, err := jws.Verify(keys[0].Key); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return kid
}

// TestScaleOut: a fleet of three starting at once; a login that crosses
// workers (authorize on 1, login form POST on 2, code on 1, refresh on 2,
// userinfo on 1); the same JWKS from both; `foyer keys rotate` reaching
// both workers' JWKS while the old key keeps signing and old tokens verify.
func TestScaleOut(t *testing.T) {
	s := newScaleOut(t)
	s.start(t, s.hk, s.w1, s.w2)
	if r := getReadyz(t, s.w1.base()); r.Checks["redis-eviction"] != "ok" || len(r.Warnings) != 0 {
		t.Errorf("readyz on a noeviction Redis: %+v", r)
	}

	b := s.browser(t, 1, 2)
	code, verifier := s.code(t, b)
	tok := s.exchange(t, 1, code, verifier)
	sub := s.idToken(t, tok)
	tok2 := s.refresh(t, 2, tok)
	if s.idToken(t, tok2) != sub || s.userinfo(t, 1, tok2) != sub {
		t.Fatalf("the refreshed tokens name another user than %s", sub)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/authorize", 1}, {http.MethodPost, "/login/local", 2}, {http.MethodPost, "/consent", 2},
		{http.MethodPost, "/token", 1}, {http.MethodGet, "/userinfo", 1},
	} {
		if got := s.lb.workersFor(c.method, c.path); len(got) == 0 || got[0] != c.want {
			t.Errorf("%s %s served by %v, want worker %d first", c.method, c.path, got, c.want)
		}
	}
	if got := s.lb.workersFor(http.MethodPost, "/token"); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("/token served by %v, want the code at 1 and the refresh at 2", got)
	}

	j1, e1 := jwks(t, s.w1)
	j2, e2 := jwks(t, s.w2)
	if string(j1) != string(j2) || e1 != e2 {
		t.Fatalf("the workers serve different JWKS:\n%s (%s)\n%s (%s)", j1, e1, j2, e2)
	}
	before := kids(t, j1)

	start := time.Now()
	if out, errOut, code := runFoyer(t, "", "keys", "rotate", "--config", s.w1.file); code != 0 {
		t.Fatalf("keys rotate: %d\n%s%s", code, out, errOut)
	}
	var after []byte
	ok := pollUntil(time.Now().Add(soDeadline), func() bool {
		j1, e1 := jwks(t, s.w1)
		j2, e2 := jwks(t, s.w2)
		after = j1
		return string(j1) == string(j2) && e1 == e2 && len(kids(t, j1)) > len(before)
	})
	if !ok {
		t.Fatalf("the new key did not reach both workers' JWKS within %v; before %v, w1 now %s", soDeadline, before, after)
	}
	t.Logf("the rotated key reached both workers' JWKS in %v", time.Since(start).Round(time.Millisecond))
	for _, kid := range before {
		if !slices.Contains(kids(t, after), kid) {
			t.Errorf("key %s left the JWKS at rotation", kid)
		}
	}

	// Tokens from before verify against either worker's JWKS; the old
	// key still signs (the new one is only published ahead).
	tok3 := s.refresh(t, 1, tok2)
	for _, w := range []*soWorker{s.w1, s.w2} {
		body, _ := jwks(t, w)
		for name, tk := range map[string]*oauth2.Token{"first": tok, "refreshed": tok2, "after rotation": tok3} {
			raw, _ := tk.Extra("id_token").(string)
			kid := verifyWith(t, body, raw, name+" id token at "+w.name)
			verifyWith(t, body, tk.AccessToken, name+" access token at "+w.name)
			if !slices.Contains(before, kid) {
				t.Errorf("%s id token signed by %s, a key published only now", name, kid)
			}
		}
	}
	if s.userinfo(t, 2, tok3) != sub {
		t.Error("userinfo after the rotation names another user")
	}
}

// wantUnavailablePage checks a 503 page: HTML, Retry-After, and nothing of
// the server's insides in the body.
func wantUnavailablePage(t *testing.T, what string, resp *http.Response, body string, redisAddr string) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s: %s %q Retry-After %q, want a 503 page with Retry-After:\n%s",
			what, resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), body)
	}
	for _, leak := range []string{"goroutine ", "panic", ".go:", "redis", redisAddr} {
		if strings.Contains(strings.ToLower(body), strings.ToLower(leak)) {
			t.Errorf("%s: the page shows %q:\n%s", what, leak, body)
		}
	}
}

// do sends one request with b's cookies and returns the answer and body.
func do(t *testing.T, b *chainBrowser, method, target string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

// wantTokenUnavailable POSTs form to /token at worker n and checks a 503
// temporarily_unavailable answer with Retry-After.
func (s *scaleOut) wantTokenUnavailable(t *testing.T, n int, what string, form url.Values) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.lb.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(lbWorkerHeader, strconv.Itoa(n))
	req.SetBasicAuth(soClientID, soClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	err = json.NewDecoder(resp.Body).Decode(&e)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || e.Error != "temporarily_unavailable" ||
		resp.Header.Get("Retry-After") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: %s %q Retry-After %q (%v), want 503 temporarily_unavailable with Retry-After",
			what, resp.Status, e.Error, resp.Header.Get("Retry-After"), err)
	}
}

// TestRedisTrouble stops the deployment's Redis mid-flow: every worker
// turns unready, each request gets a 503 page or temporarily_unavailable,
// no worker dies; Redis comes back empty and Foyer recovers by itself: the
// lease holder writes the key set back, and a new login works.
func TestRedisTrouble(t *testing.T) {
	s := newScaleOut(t)
	s.start(t, s.hk, s.w1, s.w2)
	b := s.browser(t, 1, 2)
	code, verifier := s.code(t, b)
	tok := s.exchange(t, 1, code, verifier)
	pending, _ := s.code(t, b) // redeemed only while Redis is away
	// Another person is on the login page when Redis goes.
	other := s.browser(t, 1, 2)
	verifier = oauth2.GenerateVerifier()
	resp, _ := do(t, other, http.MethodGet, s.rp.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)), nil)
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize: %s, no redirect to the login page", resp.Status)
	}
	resp, page := do(t, other, http.MethodGet, loc.String(), nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
		t.Fatalf("login page: %s\n%s", resp.Status, page)
	}
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("login page without a form:\n%s", page)
	}
	action, err := loc.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	loginForm := fields(page)
	loginForm.Set("username", chainUser)
	loginForm.Set("password", chainPassword)
	j1, _ := jwks(t, s.w1)

	s.redis.Stop(t)
	for _, w := range []*soWorker{s.hk, s.w1, s.w2} {
		if r := getReadyz(t, w.base()); r.status != http.StatusServiceUnavailable || r.Ready || r.Checks["state"] != "unavailable" {
			t.Errorf("%s readyz without Redis: %d %+v", w.name, r.status, r)
		}
	}
	// A new authorization goes back to the client with
	// temporarily_unavailable (RFC 6749 §4.1.2.1), with or without a
	// session cookie.
	for name, br := range map[string]*chainBrowser{"with a session": b, "without": s.browser(t, 1, 2)} {
		end := br.walk(s.rp.AuthCodeURL("s3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), chainRedirect)
		if end.final == nil {
			t.Errorf("authorize %s: %d at %s, want a redirect to the client:\n%s", name, end.status, end.at, end.body)
			continue
		}
		if q := end.final.Query(); q.Get("error") != "temporarily_unavailable" || q.Get("state") != "s3" || q.Get("iss") != s.lb.URL {
			t.Errorf("authorize %s: back at the client with %s", name, end.final)
		}
	}
	// The login in progress gets a 503 page from the other worker.
	other.client.Transport = routeTransport(func(*http.Request) int { return 2 })
	resp, page = do(t, other, http.MethodGet, loc.String(), nil)
	wantUnavailablePage(t, "login page", resp, page, s.redis.Addr)
	resp, page = do(t, other, http.MethodPost, action.String(), loginForm)
	wantUnavailablePage(t, "login form", resp, page, s.redis.Addr)
	s.wantTokenUnavailable(t, 1, "code", url.Values{"grant_type": {"authorization_code"}, "code": {pending}, "redirect_uri": {chainRedirect}})
	s.wantTokenUnavailable(t, 2, "refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	req, _ := http.NewRequest(http.MethodGet, s.lb.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set(lbWorkerHeader, "1")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	var uiErr struct{ Error string }
	err = json.NewDecoder(resp.Body).Decode(&uiErr)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || uiErr.Error != "temporarily_unavailable" || err != nil {
		t.Errorf("userinfo without Redis: %s %q %v, want 503 temporarily_unavailable", resp.Status, uiErr.Error, err)
	}
	for _, w := range []*soWorker{s.hk, s.w1, s.w2} {
		if !w.alive() || statusOf(w.base()+"/healthz") != http.StatusOK {
			t.Fatalf("%s is not alive without Redis", w.name)
		}
		if l := w.proc.logs(); strings.Contains(l, "panic") || strings.Contains(l, "goroutine ") {
			t.Errorf("%s panicked:\n%s", w.name, l)
		}
	}

	s.redis.Start(t)
	back := time.Now()
	for _, w := range []*soWorker{s.hk, s.w1, s.w2} {
		if !pollUntil(time.Now().Add(soDeadline), func() bool { return statusOf(w.base()+"/readyz") == http.StatusOK }) {
			t.Fatalf("%s not ready %v after Redis came back: %+v", w.name, soDeadline, getReadyz(t, w.base()))
		}
	}
	t.Logf("every worker ready again %v after Redis came back", time.Since(back).Round(time.Millisecond))
	rdb := redis.NewClient(&redis.Options{Addr: s.redis.Addr})
	defer rdb.Close()
	if !pollUntil(time.Now().Add(soDeadline), func() bool { return rdb.Exists(context.Background(), "foyer:{keyset}").Val() == 1 }) {
		t.Fatal("the lease holder did not write the lost key set back")
	}
	t.Logf("key set written back %v after Redis came back", time.Since(back).Round(time.Millisecond))

	// Redis kept nothing: the old refresh token is gone, a new login
	// (same browser, stale cookies) works across workers, with the keys
	// of before.
	_, err = s.rp.TokenSource(pinned(1), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	wantInvalidGrant(t, "refresh token from before the restart", err)
	code, verifier = s.code(t, b)
	tok = s.exchange(t, 2, code, verifier)
	tok = s.refresh(t, 1, tok)
	if sub := s.idToken(t, tok); s.userinfo(t, 2, tok) != sub {
		t.Error("userinfo after recovery names another user")
	}
	for _, w := range []*soWorker{s.w1, s.w2} {
		if body, _ := jwks(t, w); string(body) != string(j1) {
			t.Errorf("%s serves other keys after the restart:\n%s\nwant\n%s", w.name, body, j1)
		}
	}
}

// TestHousekeepingRole: the housekeeping worker serves no public listener,
// answers readiness and metrics on admin.addr, and holds the "keys" lease;
// watched with MONITOR over a login and a rotation that both public workers
// pick up, no public worker ever touches the lease. Stopped, the
// housekeeping worker releases it and the standby takes it over.
func TestHousekeepingRole(t *testing.T) {
	s := newScaleOut(t)
	mon := startMonitor(t, s.redis.Addr)
	s.start(t, s.hk)
	if c, err := net.DialTimeout("tcp", s.hk.httpAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("the housekeeping worker listens on http.addr %s", s.hk.httpAddr)
	}
	if r := getReadyz(t, s.hk.base()); r.status != http.StatusOK || !r.Ready {
		t.Errorf("housekeeping readyz: %+v", r)
	}
	resp, err := http.Get(s.hk.base() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(metrics), "go_goroutines") {
		t.Errorf("housekeeping metrics: %s\n%.300s", resp.Status, metrics)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.redis.Addr})
	defer rdb.Close()
	const lease = "foyer:{lease:keys}"
	var holder string
	if !pollUntil(time.Now().Add(soDeadline), func() bool {
		holder = rdb.HGet(context.Background(), lease, "h").Val()
		return holder != ""
	}) {
		t.Fatal("the housekeeping worker did not take the keys lease")
	}

	s.start(t, s.hk2, s.w1, s.w2)
	code, verifier := s.code(t, s.browser(t, 1, 2))
	s.refresh(t, 2, s.exchange(t, 1, code, verifier))
	before, _ := jwks(t, s.w1)
	if _, errOut, code := runFoyer(t, "", "keys", "rotate", "--config", s.w2.file); code != 0 {
		t.Fatalf("keys rotate: %d\n%s", code, errOut)
	}
	for _, w := range []*soWorker{s.w1, s.w2} {
		if !pollUntil(time.Now().Add(soDeadline), func() bool { b, _ := jwks(t, w); return len(kids(t, b)) > len(kids(t, before)) }) {
			t.Fatalf("%s did not load the rotated key set", w.name)
		}
	}
	if now := rdb.HGet(context.Background(), lease, "h").Val(); now != holder {
		t.Errorf("the keys lease moved from %s to %q", holder, now)
	}
	s.hk.stop(t)
	stopped := time.Now()
	if now := rdb.HGet(context.Background(), lease, "h").Val(); now == holder {
		t.Errorf("the housekeeping worker kept the keys lease after SIGTERM")
	}
	var standby string
	if !pollUntil(time.Now().Add(soDeadline), func() bool {
		standby = rdb.HGet(context.Background(), lease, "h").Val()
		return standby != "" && standby != holder
	}) {
		t.Fatal("the standby housekeeping worker did not take the keys lease over")
	}
	t.Logf("the standby took the keys lease over %v after the holder stopped", time.Since(stopped).Round(time.Millisecond))
	var calls int
	for _, line := range strings.Split(mon.stop(), "\n") {
		cmd := strings.ToLower(line)
		if !strings.Contains(line, lease) || strings.Contains(line, "[0 lua]") ||
			!(strings.Contains(cmd, `] "evalsha"`) || strings.Contains(cmd, `] "eval"`)) {
			continue
		}
		calls++
		if !strings.Contains(line, `"`+holder+`"`) && !strings.Contains(line, `"`+standby+`"`) {
			t.Errorf("a worker other than the housekeeping ones (%s, %s) touched the keys lease: %s", holder, standby, line)
		}
	}
	if calls == 0 {
		t.Error("MONITOR saw no lease calls at all")
	}
}

// monitor records what a redis-server executes (MONITOR).
type monitor struct {
	conn net.Conn
	buf  syncBuffer
	done chan struct{}
}

func startMonitor(t *testing.T, addr string) *monitor {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := &monitor{conn: c, done: make(chan struct{})}
	r := bufio.NewReader(c)
	if _, err := io.WriteString(c, "MONITOR\r\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("MONITOR: %q %v", line, err)
	}
	go func() {
		_, _ = io.Copy(&m.buf, r)
		close(m.done)
	}()
	t.Cleanup(func() { m.stop() })
	return m
}

// stop ends the recording and returns it, one command a line.
func (m *monitor) stop() string {
	_ = m.conn.Close()
	<-m.done
	return m.buf.String()
}

// TestRedisEvictionWarning: on a Redis that may evict keys, the workers
// stay ready but /readyz carries a warning naming the policy.
func TestRedisEvictionWarning(t *testing.T) {
	s := newScaleOut(t, "--maxmemory-policy", "allkeys-lru")
	s.start(t, s.hk, s.w1)
	for _, w := range []*soWorker{s.hk, s.w1} {
		r := getReadyz(t, w.base())
		if r.status != http.StatusOK || !r.Ready || r.Checks["redis-eviction"] != "warning" ||
			len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], "redis-eviction: ") || !strings.Contains(r.Warnings[0], "allkeys-lru") {
			t.Errorf("%s readyz on an evicting Redis: %+v", w.name, r)
		}
	}
}
