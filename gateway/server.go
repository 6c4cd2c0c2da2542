package gateway

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
)

// keySource is what the gateway needs of the key manager.
type keySource interface {
	Sign(alg, typ string, claims any) (string, error)
	Verify(token, typ string) ([]byte, error)
	JWKS() (body []byte, etag string)
	JWKSMaxAge() time.Duration
	Algorithms() []string
	DefaultAlgorithm() string
}

// Connector is one configured connector as the gateway sees it.
type Connector struct {
	ID   string
	Type string
	Name string
	// Impl implements connectors.PasswordConnector or
	// connectors.CallbackConnector, and maybe connectors.RefreshConnector.
	Impl   any
	Policy identity.Policy
}

// Lifetimes are the lifetimes of what the gateway issues.
type Lifetimes struct {
	IDToken           time.Duration
	AccessToken       time.Duration
	RefreshIdle       time.Duration
	RefreshAbsolute   time.Duration
	RefreshReuseGrace time.Duration
	AuthCode          time.Duration
	AuthRequest       time.Duration
	SessionIdle       time.Duration
	SessionAbsolute   time.Duration
}

// DefaultLifetimes are Foyer's short defaults.
var DefaultLifetimes = Lifetimes{
	IDToken:           10 * time.Minute,
	AccessToken:       10 * time.Minute,
	RefreshIdle:       24 * time.Hour,
	RefreshAbsolute:   30 * 24 * time.Hour,
	RefreshReuseGrace: 5 * time.Second,
	AuthCode:          time.Minute,
	AuthRequest:       15 * time.Minute,
	SessionIdle:       time.Hour,
	SessionAbsolute:   12 * time.Hour,
}

// DemoClient is the dev-mode demo application's client.
type DemoClient struct {
	ID     string
	Secret string
}

// Options configure a Server.
type Options struct {
	Issuer     string // absolute URL without a trailing slash
	Directory  storage.Directory
	State      storage.State
	Keys       keySource
	Connectors []Connector
	Linker     *identity.Linker
	Lifetimes  Lifetimes
	// FlowKey keys the HMACs that bind forms to their flow (CSRF). All
	// workers must share it; cmd derives it from the key-encryption key.
	FlowKey []byte
	// DataKey (32 bytes) seals connector data (upstream tokens) at rest;
	// default: derived from FlowKey.
	DataKey        []byte
	Theme          string
	Title          string
	TrustedProxies []netip.Prefix
	// BackchannelClient delivers back-channel logout tokens; default a
	// client with a 5 s timeout. BackchannelRetry is the first retry delay
	// (default 1 s, doubling).
	BackchannelClient *http.Client
	BackchannelRetry  time.Duration
	// ReadyChecks are checked by /readyz besides the store.
	ReadyChecks []ReadyCheck
	// Demo enables /demo (dev mode only).
	Demo   *DemoClient
	Logger *slog.Logger
	Clock  func() time.Time
}

// Server serves Foyer's public HTTP interface.
type Server struct {
	issuer         string
	issuerURL      *url.URL
	dir            storage.Directory
	state          storage.State
	keys           keySource
	connectors     map[string]*Connector
	connectorOrder []string
	linker         *identity.Linker
	life           Lifetimes
	flowKey        []byte
	dataKey        []byte
	title          string
	secure         bool
	cookiePath     string
	trustedProxies []netip.Prefix
	demo           *DemoClient
	logger         *slog.Logger
	now            func() time.Time
	pages          *pages
	discovery      []byte
	grants         map[string]grantHandler
	metrics        *metrics
	readyChecks    []ReadyCheck
	// Back-channel logout deliveries run in the background.
	bgWG              sync.WaitGroup
	backchannelClient *http.Client
	backchannelRetry  time.Duration
	handler           http.Handler
}

// New builds a Server.
func New(o Options) (*Server, error) {
	if o.Directory == nil || o.State == nil || o.Keys == nil || o.Linker == nil {
		return nil, errors.New("gateway: directory, state, keys and linker are required")
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("gateway: issuer %q is not an absolute URL", o.Issuer)
	}
	if len(o.FlowKey) < 32 {
		return nil, errors.New("gateway: flow key must be at least 32 bytes")
	}
	if len(o.DataKey) == 0 {
		// Derived from the flow key, itself a secret derived from the KEK.
		k, err := hkdf.Key(sha256.New, o.FlowKey, nil, "foyer gateway connector data", 32)
		if err != nil {
			return nil, fmt.Errorf("gateway: data key: %w", err)
		}
		o.DataKey = k
	}
	if len(o.DataKey) != 32 {
		return nil, errors.New("gateway: data key must be 32 bytes")
	}
	s := &Server{
		issuer:         strings.TrimSuffix(o.Issuer, "/"),
		issuerURL:      u,
		dir:            o.Directory,
		state:          o.State,
		keys:           o.Keys,
		connectors:     make(map[string]*Connector),
		linker:         o.Linker,
		life:           o.Lifetimes,
		flowKey:        append([]byte(nil), o.FlowKey...),
		dataKey:        append([]byte(nil), o.DataKey...),
		title:          o.Title,
		secure:         u.Scheme == "https",
		cookiePath:     strings.TrimSuffix(u.EscapedPath(), "/") + "/",
		trustedProxies: o.TrustedProxies,
		demo:           o.Demo,
		logger:         o.Logger,
		now:            o.Clock,
		metrics:        newMetrics(),
		readyChecks:    o.ReadyChecks,

		backchannelClient: o.BackchannelClient,
		backchannelRetry:  o.BackchannelRetry,
	}
	if s.backchannelClient == nil {
		s.backchannelClient = &http.Client{Timeout: 5 * time.Second}
	}
	if s.backchannelRetry <= 0 {
		s.backchannelRetry = time.Second
	}
	if s.title == "" {
		s.title = "Foyer"
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.life == (Lifetimes{}) {
		s.life = DefaultLifetimes
	}
	for i := range o.Connectors {
		c := o.Connectors[i]
		if _, dup := s.connectors[c.ID]; dup {
			return nil, fmt.Errorf("gateway: duplicate connector %q", c.ID)
		}
		s.connectors[c.ID] = &c
		s.connectorOrder = append(s.connectorOrder, c.ID)
	}
	if len(s.connectors) == 0 {
		return nil, errors.New("gateway: no connectors")
	}
	if s.pages, err = loadPages(o.Theme); err != nil {
		return nil, err
	}
	if s.discovery, err = s.buildDiscovery(); err != nil {
		return nil, err
	}
	s.grants = map[string]grantHandler{
		grantAuthorizationCode: s.grantCode,
		grantRefreshToken:      s.grantRefresh,
		grantPassword:          s.grantPassword,
		grantDeviceCode:        s.grantDevice,
	}
	s.handler = s.middleware(s.routes())
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// path returns the absolute URL of a path under the issuer.
func (s *Server) url(path string) string { return s.issuer + path }

// routes maps paths to handlers; the issuer's path prefix (if any) is
// honoured so Foyer can live under https://example.com/id.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	p := s.basePath()
	handle := func(path string, h http.HandlerFunc) { mux.HandleFunc(p+path, h) }
	handle("/.well-known/openid-configuration", cors(allowMethods(s.handleDiscovery, http.MethodGet, http.MethodHead)))
	handle("/jwks", cors(allowMethods(s.handleJWKS, http.MethodGet, http.MethodHead)))
	handle("/authorize", allowMethods(s.handleAuthorize, http.MethodGet, http.MethodPost))
	handle("/login", allowMethods(s.handleChooser, http.MethodGet))
	handle("/login/{connector}", allowMethods(s.handleLogin, http.MethodGet, http.MethodPost))
	handle("/callback/{connector}", allowMethods(s.handleCallback, http.MethodGet, http.MethodPost))
	handle("/consent", allowMethods(s.handleConsent, http.MethodGet, http.MethodPost))
	handle("/saml/{connector}/metadata", s.handleConnectorMetadata)
	handle("/logout", allowMethods(s.handleLogout, http.MethodGet, http.MethodPost))
	handle("/account", allowMethods(s.handleAccount, http.MethodGet))
	handle("/account/login", allowMethods(s.handleAccountLogin, http.MethodGet))
	handle("/account/link", allowMethods(s.handleAccountLink, http.MethodPost))
	handle("/account/unlink", allowMethods(s.handleAccountUnlink, http.MethodPost))
	handle("/account/sessions/revoke", allowMethods(s.handleAccountRevokeSession, http.MethodPost))
	handle("/select-account", allowMethods(s.handleSelectAccount, http.MethodGet, http.MethodPost))
	handle("/token", cors(allowMethods(s.handleToken, http.MethodPost, http.MethodOptions)))
	handle("/device/code", cors(allowMethods(s.handleDeviceAuthorization, http.MethodPost, http.MethodOptions)))
	handle("/device", allowMethods(s.handleDevice, http.MethodGet, http.MethodPost))
	handle("/device/confirm", allowMethods(s.handleDeviceConfirm, http.MethodGet, http.MethodPost))
	handle("/revoke", cors(allowMethods(s.handleRevoke, http.MethodPost, http.MethodOptions)))
	handle("/introspect", allowMethods(s.handleIntrospect, http.MethodPost))
	handle("/userinfo", cors(allowMethods(s.handleUserinfo, http.MethodGet, http.MethodPost, http.MethodOptions)))
	handle("/healthz", allowMethods(s.handleHealthz, http.MethodGet, http.MethodHead))
	handle("/readyz", allowMethods(s.handleReadyz, http.MethodGet, http.MethodHead))
	handle("/static/", allowMethods(func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix(p, s.pages.static).ServeHTTP(w, r)
	}, http.MethodGet, http.MethodHead))
	if s.demo != nil {
		s.demoRoutes(mux, p)
	}
	handle("/", s.handleNotFound)
	if p != "" {
		mux.HandleFunc("/", s.handleNotFound) // outside the issuer's path too
	}
	return mux
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	if s.demo != nil && (r.URL.Path == "/" || r.URL.Path == s.cookiePath) {
		http.Redirect(w, r, s.url("/demo"), http.StatusFound)
		return
	}
	s.renderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
}
