package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/foyerid/foyer/connectors"
)

// TypeName is the connector type of the oidc connector.
const TypeName = "oidc"

// Type registers the oidc connector.
var Type = connectors.TypeFor(func(c Config, env connectors.Env) (*Connector, error) { return Open(c, env) })

// Option changes how Open builds a connector (tests).
type Option func(*Connector)

// WithClock sets the clock ID tokens' expiry is checked against.
func WithClock(now func() time.Time) Option {
	return func(c *Connector) { c.now = now }
}

// Open returns an oidc connector. It does no I/O: discovery happens at the
// first login or refresh that needs the upstream, and is tried again at
// the next one when it fails.
func Open(cfg Config, env connectors.Env, opts ...Option) (*Connector, error) {
	if ps := cfg.Validate(); len(ps) > 0 {
		return nil, fmt.Errorf("oidc: invalid config: %s: %s", ps[0].Path, ps[0].Msg)
	}
	cfg = cfg.withDefaults()
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Connector{
		cfg:         cfg,
		callbackURL: env.CallbackURL,
		logger:      logger,
		metaClient:  cappedClient(env.HTTPClient, maxMetadataResponse),
		tokenClient: cappedClient(env.HTTPClient, maxTokenResponse),
		now:         time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Connector logs people in at an upstream OpenID Provider.
type Connector struct {
	cfg Config
	// callbackURL is env.CallbackURL, the redirect URI when neither the
	// config nor the gateway names one.
	callbackURL string
	logger      *slog.Logger
	now         func() time.Time
	// metaClient fetches discovery and keys; tokenClient talks to the
	// token and userinfo endpoints. Each caps what it reads.
	metaClient, tokenClient *http.Client

	discoveries singleflight.Group
	mu          sync.Mutex
	up          *upstream // nil until discovery succeeds
}

// upstream is what discovery taught us.
type upstream struct {
	provider *gooidc.Provider
	// offline: the upstream understands the offline_access scope (it
	// lists it, or lists no scopes at all).
	offline bool
	// authStyle is how we authenticate at the token endpoint: fixed from
	// discovery, so that x/oauth2 never guesses (its guessing retries a
	// failed code exchange with the secret in the body).
	authStyle oauth2.AuthStyle
}

// upstream returns the discovered upstream, discovering it now if needed.
// Concurrent callers share one attempt; a failed attempt is not kept, so
// the next call tries again.
func (c *Connector) upstream(ctx context.Context) (*upstream, error) {
	c.mu.Lock()
	up := c.up
	c.mu.Unlock()
	if up != nil {
		return up, nil
	}
	ch := c.discoveries.DoChan("discovery", func() (any, error) {
		// Not the caller's context: one caller giving up must not fail
		// the attempt the others wait for. The client's timeout bounds it.
		ctx := gooidc.ClientContext(context.Background(), c.metaClient)
		p, err := gooidc.NewProvider(ctx, c.cfg.Issuer)
		if err != nil {
			return nil, fmt.Errorf("oidc: discovery of %s: %w", c.cfg.Issuer, err)
		}
		var meta struct {
			Scopes      []string `json:"scopes_supported"`
			AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		}
		if err := p.Claims(&meta); err != nil {
			return nil, fmt.Errorf("oidc: discovery of %s: %w", c.cfg.Issuer, err)
		}
		up := &upstream{
			provider:  p,
			offline:   len(meta.Scopes) == 0 || slices.Contains(meta.Scopes, scopeOfflineAccess),
			authStyle: oauth2.AuthStyleInHeader,
		}
		// OIDC Discovery §3: the default, when none is listed, is
		// client_secret_basic.
		if len(meta.AuthMethods) > 0 && !slices.Contains(meta.AuthMethods, "client_secret_basic") &&
			slices.Contains(meta.AuthMethods, "client_secret_post") {
			up.authStyle = oauth2.AuthStyleInParams
		}
		c.mu.Lock()
		c.up = up
		c.mu.Unlock()
		c.logger.Info("oidc: upstream discovered", "issuer", c.cfg.Issuer)
		return up, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*upstream), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("oidc: discovery of %s: %w", c.cfg.Issuer, ctx.Err())
	}
}

// oauth2Config is the OAuth 2.0 client for the upstream, asking for the
// scopes a login with s needs.
func (c *Connector) oauth2Config(up *upstream, s connectors.Scopes, redirectURI string) *oauth2.Config {
	scopes := slices.Clone(c.cfg.Scopes)
	if s.OfflineAccess && up.offline && !slices.Contains(scopes, scopeOfflineAccess) {
		scopes = append(scopes, scopeOfflineAccess)
	}
	if s.Groups && c.cfg.GroupsScope != "" && !slices.Contains(scopes, c.cfg.GroupsScope) {
		scopes = append(scopes, c.cfg.GroupsScope)
	}
	endpoint := up.provider.Endpoint()
	endpoint.AuthStyle = up.authStyle
	return &oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret.Reveal(),
		Endpoint:     endpoint,
		RedirectURL:  redirectURI,
		Scopes:       scopes,
	}
}

// loginState is what LoginURL hands the gateway to keep with the auth
// request, and HandleCallback gets back.
type loginState struct {
	Verifier    string `json:"v"`
	Nonce       string `json:"n"`
	RedirectURI string `json:"r"`
}

// LoginURL implements connectors.CallbackConnector: the upstream's
// authorization URL with PKCE (RFC 7636, S256), a fresh nonce (OIDC Core
// §3.1.2.1) and the gateway's state.
func (c *Connector) LoginURL(ctx context.Context, s connectors.Scopes, callbackURL, state string) (string, []byte, error) {
	up, err := c.upstream(ctx)
	if err != nil {
		return "", nil, err
	}
	st := loginState{Verifier: oauth2.GenerateVerifier(), Nonce: randomString(), RedirectURI: c.cfg.RedirectURI}
	for _, u := range []string{callbackURL, c.callbackURL} {
		if st.RedirectURI == "" {
			st.RedirectURI = u
		}
	}
	if st.RedirectURI == "" {
		return "", nil, errors.New("oidc: no redirect URI")
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier), gooidc.Nonce(st.Nonce)}
	if s.OfflineAccess {
		// Google's way to ask for a refresh token; others ignore it.
		opts = append(opts, oauth2.AccessTypeOffline)
	}
	if c.cfg.PromptType != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", c.cfg.PromptType))
	}
	switch len(c.cfg.HostedDomains) {
	case 0:
	case 1:
		opts = append(opts, oauth2.SetAuthURLParam("hd", c.cfg.HostedDomains[0]))
	default:
		opts = append(opts, oauth2.SetAuthURLParam("hd", "*"))
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return "", nil, fmt.Errorf("oidc: login state: %w", err)
	}
	return c.oauth2Config(up, s, st.RedirectURI).AuthCodeURL(state, opts...), raw, nil
}

// randomString returns 256 random bits, base64url.
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Interface guards.
var (
	_ connectors.CallbackConnector = (*Connector)(nil)
	_ connectors.RefreshConnector  = (*Connector)(nil)
)
