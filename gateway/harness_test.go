package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/local"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/keys"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// testClock is a settable clock shared by the server, the store and keys.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// cheapParams keep argon2id fast in tests (the race detector slows it).
var cheapParams = identity.Params{Memory: 64, Time: 1, Threads: 1}

// harness is a Foyer gateway on a real loopback listener, with a memory
// store, a key manager and the local connector.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	gw     *Server
	store  *memory.Store
	keys   *keys.Manager
	clock  *testClock
	issuer string
}

// harnessOption adjusts the gateway options before the server starts.
type harnessOption func(*Options)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, clock: &testClock{now: time.Now().UTC().Truncate(time.Millisecond)}}
	h.store = memory.New(memory.WithClock(h.clock.Now))
	// The listener comes first: the issuer is its URL.
	h.srv = httptest.NewUnstartedServer(nil)
	h.issuer = "http://" + h.srv.Listener.Addr().String()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if os.Getenv("FOYER_TEST_QUIET") != "" {
		logger = slog.New(slog.DiscardHandler)
	}
	var err error
	h.keys, err = keys.NewManager(h.store, keys.GenerateKEK(), keys.Options{
		Algorithms: []string{"RS256", "ES256", "EdDSA"}, TokenLifetime: time.Hour, Clock: h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.keys.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	lc, err := local.Open(local.Config{}, connectors.Env{ID: "local", Users: h.store, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Issuer: h.issuer, Directory: h.store, State: h.store, Keys: h.keys,
		Connectors: []Connector{{ID: "local", Type: "local", Name: "Email", Impl: lc, Policy: identity.Policy{Signup: true}}},
		Linker:     identity.NewLinker(h.store, h.clock.Now, logger),
		Lifetimes:  DefaultLifetimes,
		FlowKey:    []byte(strings.Repeat("k", 32)),
		Logger:     logger,
		Clock:      h.clock.Now,
	}
	for _, f := range opts {
		f(&o)
	}
	h.gw, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Config.Handler = h.gw.Handler()
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// addUser stores a local user with a password and returns its id.
func (h *harness) addUser(username, password string, groups ...string) string {
	h.t.Helper()
	hash, err := identity.HashPasswordWith(password, cheapParams)
	if err != nil {
		h.t.Fatal(err)
	}
	u := storage.User{
		ID: storage.NewID(), Username: username, Email: username + "@example.com", EmailVerified: true,
		Name: strings.ToUpper(username[:1]) + username[1:], PasswordHash: hash, Groups: groups,
		CreatedAt: h.clock.Now(),
	}
	if err := h.store.CreateUser(context.Background(), u); err != nil {
		h.t.Fatal(err)
	}
	return u.ID
}

// addClient stores a client; a non-empty secret makes it confidential.
func (h *harness) addClient(c storage.Client, secret string) storage.Client {
	h.t.Helper()
	if secret != "" {
		c.SecretHash = HashClientSecret(secret)
	} else {
		c.Public = true
	}
	if err := h.store.CreateClient(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// browser returns an HTTP client with a cookie jar that does not follow
// redirects, so each step of the flow can be inspected.
func (h *harness) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
