package github_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/github"
	"github.com/foyerid/foyer/gateway"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/keys"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// foyer is a real Foyer gateway on a loopback listener whose only
// connector is GitHub (the fake), with one confidential client.
type foyer struct {
	issuer   string
	redirect string
	relying  oauth2.Config
	verifier *oidc.IDTokenVerifier
	ctx      context.Context
}

const (
	rpID       = "webapp"
	rpSecret   = "webapp-secret-0123456789"
	rpRedirect = "https://webapp.example/cb"
)

func newFoyer(t *testing.T, f *fakeGitHub, cfg github.Config) *foyer {
	t.Helper()
	ctx := t.Context()
	store := memory.New()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	km, err := keys.NewManager(store, keys.GenerateKEK(), keys.Options{TokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = fakeClientID, fakeClientSecret
	conn, err := github.Open(cfg, connectors.Env{
		ID: "github", CallbackURL: issuer + "/callback/github", Issuer: issuer,
		Logger: logger.With("connector_id", "github"), HTTPClient: f.client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeGitHub) { f.callback = issuer + "/callback/github" })
	gw, err := gateway.New(gateway.Options{
		Issuer: issuer, Directory: store, State: store, Keys: km,
		Connectors: []gateway.Connector{{ID: "github", Type: github.TypeName, Name: "GitHub", Impl: conn, Policy: identity.Policy{Signup: true}}},
		Linker:     identity.NewLinker(store, nil, logger),
		FlowKey:    []byte(strings.Repeat("f", 32)),
		Logger:     logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gw.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	err = store.CreateClient(ctx, storage.Client{
		ID: rpID, Name: "Web app", SecretHash: gateway.HashClientSecret(rpSecret),
		RedirectURIs: []string{rpRedirect}, RequirePKCE: true, SkipConsent: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	octx := oidc.ClientContext(ctx, &http.Client{Timeout: 10 * time.Second})
	p, err := oidc.NewProvider(octx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &foyer{
		issuer: issuer, redirect: rpRedirect, ctx: octx,
		relying: oauth2.Config{
			ClientID: rpID, ClientSecret: rpSecret, Endpoint: p.Endpoint(), RedirectURL: rpRedirect,
			Scopes: []string{oidc.ScopeOpenID, "email", "profile", "groups", oidc.ScopeOfflineAccess},
		},
		verifier: p.Verifier(&oidc.Config{ClientID: rpID}),
	}
}

// hop is one response on the browser's way.
type hop struct {
	url    *url.URL
	status int
	body   string
}

// browse follows redirects from target, through the gateway and the fake
// GitHub, until the client's redirect URI or a page that is no redirect.
// It returns every hop.
func browse(t *testing.T, f *fakeGitHub, target string) []hop {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	b.Jar = jar
	var hops []hop
	next, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if next.Host == "webapp.example" {
			return append(hops, hop{url: next})
		}
		resp, err := b.Get(next.String())
		if err != nil {
			t.Fatalf("GET %s: %v", next.Redacted(), err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		hops = append(hops, hop{url: next, status: resp.StatusCode, body: string(body)})
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return hops
		}
		if next, err = next.Parse(resp.Header.Get("Location")); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("too many redirects")
	return nil
}

// idClaims are the ID token claims the test reads.
type idClaims struct {
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
}

func (fy *foyer) claims(t *testing.T, tok *oauth2.Token) (*oidc.IDToken, idClaims) {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	id, err := fy.verifier.Verify(fy.ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var c idClaims
	if err := id.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return id, c
}

// TestOIDCFlow runs the whole flow through a real Foyer gateway: the
// client's authorization request, GitHub's authorize page, the callback,
// the code, the tokens and refreshes, the last one after the user left
// the organisation.
func TestOIDCFlow(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.addUser(octocat())
	fy := newFoyer(t, f, github.Config{Orgs: []github.Org{{Name: "acme", Teams: []string{"core-devs"}}}})

	verifier := oauth2.GenerateVerifier()
	state, nonce := newSecret("state-"), newSecret("nonce-")
	hops := browse(t, f, fy.relying.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	var path []string
	for _, h := range hops {
		path = append(path, h.url.Host+h.url.Path)
	}
	end := hops[len(hops)-1].url
	issuerHost := strings.TrimPrefix(fy.issuer, "http://")
	wantPath := []string{issuerHost + "/authorize", issuerHost + "/login/github", "github.com/login/oauth/authorize",
		issuerHost + "/callback/github", "webapp.example/cb"}
	if !slices.Equal(path, wantPath) {
		t.Fatalf("browser went %q\nwant           %q", path, wantPath)
	}
	if end.Query().Get("state") != state || end.Query().Get("code") == "" {
		t.Fatalf("authorization response %s", end.Redacted())
	}

	tok, err := fy.relying.Exchange(fy.ctx, end.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	id, c := fy.claims(t, tok)
	if id.Nonce != nonce || id.Subject == "" || id.Subject == "583231" {
		t.Errorf("nonce %q, sub %q: want the nonce and a local user id", id.Nonce, id.Subject)
	}
	if !slices.Contains(c.Groups, "acme:core-devs") || !slices.Contains(c.Groups, "acme") || slices.Contains(c.Groups, "acme:ops") {
		t.Errorf("groups = %q, want acme and acme:core-devs only", c.Groups)
	}
	if c.Email != "octocat@acme.example" || !c.EmailVerified || c.PreferredUsername != "octocat" || c.Name != "The Octocat" {
		t.Errorf("claims %+v", c)
	}

	// A refresh re-checks GitHub and carries the new groups.
	f.update("octocat", func(u *fakeUser) {
		u.Teams = append(u.Teams, fakeTeam{Org: "acme", Slug: "core-devs-2", Name: "core-devs"})
	})
	tok, err = fy.relying.TokenSource(fy.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if _, c := fy.claims(t, tok); !slices.Contains(c.Groups, "acme:core-devs-2") {
		t.Errorf("refreshed groups = %q, want the new team", c.Groups)
	}

	// After leaving the organisation, the next refresh fails.
	f.update("octocat", func(u *fakeUser) { u.Orgs, u.Teams = nil, nil })
	_, err = fy.relying.TokenSource(fy.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh after leaving the org: %v, want invalid_grant", err)
	}
}

// TestOIDCFlowErrors: what goes wrong at GitHub ends on a readable Foyer
// page at the callback, never a 500.
func TestOIDCFlowErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(f *fakeGitHub)
		status int
	}{
		{name: "not in the organisation", setup: func(f *fakeGitHub) {
			f.addUser(fakeUser{ID: 9, Login: "mallory", Emails: []fakeEmail{{Address: "m@example.org", Primary: true, Verified: true}}})
		}, status: http.StatusForbidden},
		{name: "access denied", setup: func(f *fakeGitHub) { f.set(func(f *fakeGitHub) { f.deny = "access_denied" }) }, status: http.StatusBadGateway},
		{name: "API down", setup: func(f *fakeGitHub) { f.fail("/user", fault{status: http.StatusBadGateway}) }, status: http.StatusBadGateway},
		{name: "rate limited", setup: func(f *fakeGitHub) {
			f.fail("/user/teams", fault{status: http.StatusTooManyRequests, header: http.Header{"Retry-After": {"3600"}}})
		}, status: http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			f.addUser(octocat())
			fy := newFoyer(t, f, github.Config{Orgs: []github.Org{{Name: "acme"}}})
			tt.setup(f)
			hops := browse(t, f, fy.relying.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			last := hops[len(hops)-1]
			if last.url.Path != "/callback/github" || last.status != tt.status {
				t.Fatalf("flow ended at %s with %d, want the callback with %d", last.url.Path, last.status, tt.status)
			}
			if !strings.Contains(strings.ToLower(last.body), "<html") {
				t.Errorf("callback answered %d without a page", last.status)
			}
		})
	}
}
