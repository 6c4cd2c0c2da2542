package github

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/internal/config"
)

// OAuth scopes the connector asks for
// (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps).
const (
	scopeReadUser  = "read:user"
	scopeUserEmail = "user:email"
	scopeReadOrg   = "read:org"
)

// defaultTimeout bounds each call when the host's HTTP client has none.
const defaultTimeout = 15 * time.Second

// Connector logs people in with GitHub. It is safe for concurrent use.
type Connector struct {
	oauth         oauth2.Config // RedirectURL and Scopes are set per login
	redirectURI   string        // the configured redirect URI, or ""
	callbackURL   string        // the host's /callback/{id} URL
	apiBase       *url.URL
	http          *http.Client // API calls
	oauthHTTP     *http.Client // token endpoint calls (asks for JSON)
	orgs          []Org
	teamNameField string
	loadAllGroups bool
	useLoginAsID  bool
	emailDomain   string
	logger        *slog.Logger
	now           func() time.Time
	wait          func(context.Context, time.Duration) error
}

// Open returns a GitHub connector. It reads cfg.RootCA, if set; it makes
// no network call.
func Open(cfg Config, env connectors.Env) (*Connector, error) {
	if ps := cfg.Validate(); len(ps) > 0 {
		return nil, fmt.Errorf("github: invalid config: %w", config.Problems(ps))
	}
	web, api := "https://github.com", "https://api.github.com"
	if h := strings.ToLower(cfg.HostName); h != "" && h != "github.com" {
		web, api = "https://"+h, "https://"+h+"/api/v3"
	}
	apiBase, err := url.Parse(api)
	if err != nil {
		return nil, fmt.Errorf("github: API URL: %w", err)
	}
	client, err := httpClient(env.HTTPClient, cfg.RootCA)
	if err != nil {
		return nil, err
	}
	oauthHTTP := *client
	oauthHTTP.Transport = acceptJSON{next: transportOf(client)}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	field := cfg.TeamNameField
	if field == "" {
		field = TeamNameSlug
	}
	orgs := make([]Org, len(cfg.Orgs))
	for i, o := range cfg.Orgs {
		orgs[i] = Org{Name: o.Name, Teams: append([]string(nil), o.Teams...)}
	}
	return &Connector{
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret.Reveal(),
			Endpoint: oauth2.Endpoint{
				AuthURL:  web + "/login/oauth/authorize",
				TokenURL: web + "/login/oauth/access_token",
				// GitHub documents the client credentials as form
				// parameters.
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
		redirectURI:   cfg.RedirectURI,
		callbackURL:   env.CallbackURL,
		apiBase:       apiBase,
		http:          client,
		oauthHTTP:     &oauthHTTP,
		orgs:          orgs,
		teamNameField: field,
		loadAllGroups: cfg.LoadAllGroups,
		useLoginAsID:  cfg.UseLoginAsID,
		emailDomain:   strings.ToLower(cfg.PreferredEmailDomain),
		logger:        logger,
		now:           time.Now,
		wait:          sleep,
	}, nil
}

// httpClient copies the host's client, with a timeout, and trusts rootCA
// (a PEM file) besides the system roots when it is set.
func httpClient(base *http.Client, rootCA string) (*http.Client, error) {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if rootCA == "" {
		return c, nil
	}
	pem, err := os.ReadFile(rootCA)
	if err != nil {
		return nil, fmt.Errorf("github: rootCA: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("github: rootCA: %s holds no PEM certificate", rootCA)
	}
	tr, ok := transportOf(c).(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("github: rootCA: the HTTP client's transport is a %T, not an *http.Transport", c.Transport)
	}
	tr = tr.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.RootCAs = pool
	c.Transport = tr
	return c, nil
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// acceptJSON asks GitHub's token endpoint for JSON, which it answers in
// form encoding otherwise.
type acceptJSON struct{ next http.RoundTripper }

func (t acceptJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", userAgent)
	return t.next.RoundTrip(r)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// loginState travels with the auth request from LoginURL to
// HandleCallback.
type loginState struct {
	Verifier    string `json:"verifier"`
	RedirectURI string `json:"redirectURI"`
}

// tokenData is Identity.Data: what Refresh needs to ask GitHub again.
type tokenData struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType,omitempty"`
	// RefreshToken and Expiry are set for GitHub Apps with expiring user
	// tokens.
	RefreshToken string    `json:"refreshToken,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// LoginURL implements connectors.CallbackConnector: GitHub's authorize
// page, with PKCE (S256).
func (c *Connector) LoginURL(_ context.Context, s connectors.Scopes, callbackURL, state string) (string, []byte, error) {
	redirect := c.redirectURI
	if redirect == "" {
		redirect = callbackURL
	}
	if redirect == "" {
		redirect = c.callbackURL
	}
	if redirect == "" {
		return "", nil, errors.New("github: no redirect URI")
	}
	verifier := oauth2.GenerateVerifier()
	st, err := json.Marshal(loginState{Verifier: verifier, RedirectURI: redirect})
	if err != nil {
		return "", nil, fmt.Errorf("github: login state: %w", err)
	}
	return c.oauthConfig(redirect, s).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), st, nil
}

// oauthConfig is the app's OAuth config for one login.
func (c *Connector) oauthConfig(redirect string, s connectors.Scopes) *oauth2.Config {
	cfg := c.oauth
	cfg.RedirectURL = redirect
	cfg.Scopes = []string{scopeReadUser, scopeUserEmail}
	if c.needOrgs(s) {
		cfg.Scopes = append(cfg.Scopes, scopeReadOrg)
	}
	return &cfg
}

// oauthContext carries the client x/oauth2 uses for the token endpoint.
func (c *Connector) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.oauthHTTP)
}

// needOrgs reports whether a login must read organisations and teams.
func (c *Connector) needOrgs(s connectors.Scopes) bool {
	return len(c.orgs) > 0 || (c.loadAllGroups && s.Groups)
}

// HandleCallback implements connectors.CallbackConnector: it exchanges the
// code and reads the account, its email and its groups.
func (c *Connector) HandleCallback(ctx context.Context, s connectors.Scopes, connState []byte, r *http.Request) (connectors.Identity, error) {
	q := r.URL.Query()
	if code := q.Get("error"); code != "" {
		// GitHub's answers: access_denied, redirect_uri_mismatch,
		// application_suspended (OAuth apps' "Troubleshooting
		// authorization request errors").
		return connectors.Identity{}, &connectors.UpstreamError{Code: clip(code, 64), Description: clip(q.Get("error_description"), 256)}
	}
	code := q.Get("code")
	if code == "" {
		return connectors.Identity{}, errors.New("github: callback without a code")
	}
	var st loginState
	if err := json.Unmarshal(connState, &st); err != nil || st.Verifier == "" || st.RedirectURI == "" {
		return connectors.Identity{}, errors.New("github: callback: login state missing or unreadable")
	}
	tok, err := c.oauthConfig(st.RedirectURI, s).Exchange(c.oauthContext(ctx), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			// bad_verification_code, incorrect_client_credentials,
			// redirect_uri_mismatch: GitHub answers them with 200.
			return connectors.Identity{}, fmt.Errorf("github: exchange code: %w",
				&connectors.UpstreamError{Code: clip(re.ErrorCode, 64), Description: clip(re.ErrorDescription, 256)})
		}
		return connectors.Identity{}, fmt.Errorf("github: exchange code: %w", err)
	}
	return c.identity(ctx, s, tok)
}

// Refresh implements connectors.RefreshConnector: with the stored token it
// reads the account again and re-checks the organisation restriction. A
// revoked authorization is connectors.ErrIdentityGone; a user no longer in
// an allowed organisation is a *connectors.Refusal.
func (c *Connector) Refresh(ctx context.Context, s connectors.Scopes, id connectors.Identity) (connectors.Identity, error) {
	var d tokenData
	if err := json.Unmarshal(id.Data, &d); err != nil || d.AccessToken == "" {
		return connectors.Identity{}, fmt.Errorf("github: refresh: no stored token: %w", connectors.ErrIdentityGone)
	}
	fresh, err := c.identity(ctx, s, &oauth2.Token{
		AccessToken: d.AccessToken, TokenType: d.TokenType, RefreshToken: d.RefreshToken, Expiry: d.Expiry,
	})
	var re *oauth2.RetrieveError
	switch {
	case errors.Is(err, errUnauthorized):
		return connectors.Identity{}, fmt.Errorf("github: refresh: authorization revoked: %w", connectors.ErrIdentityGone)
	case errors.As(err, &re) && (re.ErrorCode != "" || re.Response != nil && re.Response.StatusCode < 500):
		// The stored refresh token (GitHub Apps) was refused:
		// bad_refresh_token, or an app no longer installed.
		return connectors.Identity{}, fmt.Errorf("github: refresh: refresh token refused: %w", connectors.ErrIdentityGone)
	case err != nil:
		return connectors.Identity{}, err
	}
	if fresh.Subject != id.Subject {
		return connectors.Identity{}, fmt.Errorf("github: refresh: the stored token now belongs to another account: %w", connectors.ErrIdentityGone)
	}
	return fresh, nil
}

// apiUser is the part of GET /user the connector reads.
type apiUser struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// identity reads the account behind tok.
func (c *Connector) identity(ctx context.Context, s connectors.Scopes, tok *oauth2.Token) (connectors.Identity, error) {
	tokens := c.oauth.TokenSource(c.oauthContext(ctx), tok)
	api := &apiClient{base: c.apiBase, http: c.http, tokens: tokens, now: c.now, wait: c.wait}
	var u apiUser
	header, err := api.getJSON(ctx, "/user", &u)
	if err != nil {
		return connectors.Identity{}, err
	}
	if u.ID <= 0 || u.Login == "" {
		return connectors.Identity{}, errors.New("github: GET /user: no id or login in the answer")
	}
	id := connectors.Identity{Subject: strconv.FormatInt(u.ID, 10), Username: u.Login, Name: u.Name}
	if c.useLoginAsID {
		id.Subject = u.Login
	}
	if id.Email, id.EmailVerified, err = c.email(ctx, api, u); err != nil {
		return connectors.Identity{}, err
	}
	if c.needOrgs(s) {
		// OAuth app tokens list their scopes; GitHub App tokens have
		// permissions instead, and no such header.
		if granted := header.Values("X-OAuth-Scopes"); len(granted) > 0 && !grantsReadOrg(granted) {
			return connectors.Identity{}, &connectors.Refusal{
				Reason: "GitHub did not grant Foyer access to your organisation memberships, which this login needs.",
				Detail: "user " + u.Login + ": token lacks the read:org scope",
			}
		}
		if id.Groups, err = c.groups(ctx, api, u.Login, s); err != nil {
			return connectors.Identity{}, err
		}
	}
	final, err := tokens.Token()
	if err != nil {
		return connectors.Identity{}, fmt.Errorf("github: token: %w", err)
	}
	id.Data, err = json.Marshal(tokenData{
		AccessToken: final.AccessToken, TokenType: final.TokenType,
		RefreshToken: final.RefreshToken, Expiry: final.Expiry,
	})
	if err != nil {
		return connectors.Identity{}, fmt.Errorf("github: token data: %w", err)
	}
	return id, nil
}

// grantsReadOrg reports whether X-OAuth-Scopes values include read:org or
// a scope that implies it.
func grantsReadOrg(values []string) bool {
	for _, v := range values {
		for sc := range strings.SplitSeq(v, ",") {
			switch strings.TrimSpace(sc) {
			case scopeReadOrg, "write:org", "admin:org":
				return true
			}
		}
	}
	return false
}

// clip bounds a string from upstream before it reaches a log or a page.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// Interface guards.
var (
	_ connectors.CallbackConnector = (*Connector)(nil)
	_ connectors.RefreshConnector  = (*Connector)(nil)
)
