package gateway

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/storage"
)

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	AuthTime          int64    `json:"auth_time"`
	Azp               string   `json:"azp"`
	SID               string   `json:"sid"`
	AMR               []string `json:"amr"`
	Email             *string  `json:"email"`
	EmailVerified     *bool    `json:"email_verified"`
	Name              *string  `json:"name"`
	PreferredUsername *string  `json:"preferred_username"`
	Groups            []string `json:"groups"`
}

// relyingParty is an ordinary OIDC client of the harness's Foyer, built on
// golang.org/x/oauth2 and coreos/go-oidc.
type relyingParty struct {
	cfg      oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	ctx      context.Context
}

func (h *harness) relyingParty(c rp, scopes ...string) *relyingParty {
	h.t.Helper()
	ctx := oidc.ClientContext(context.Background(), &http.Client{Timeout: 10 * time.Second})
	p, err := oidc.NewProvider(ctx, h.issuer)
	if err != nil {
		h.t.Fatalf("discovery: %v", err)
	}
	return &relyingParty{
		cfg: oauth2.Config{
			ClientID: c.ID, ClientSecret: c.secret, Endpoint: p.Endpoint(),
			RedirectURL: c.redirect, Scopes: scopes,
		},
		provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: c.ID, Now: h.clock.Now}),
		ctx:      ctx,
	}
}

// verify checks an ID token with go-oidc: signature, iss, aud, expiry,
// at_hash against the access token, and the nonce.
func (p *relyingParty) verify(t *testing.T, tok *oauth2.Token, nonce string) (*oidc.IDToken, idClaims) {
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		t.Fatal("token response has no id_token")
	}
	id, err := p.verifier.Verify(p.ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if id.Nonce != nonce {
		t.Errorf("nonce = %q, want %q", id.Nonce, nonce)
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var c idClaims
	if err := id.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return id, c
}

// TestFullFlowLibraries runs the whole flow over real HTTP with a cookie
// jar and no browser: authorize, chooser, login form, consent, code, token,
// userinfo and refresh, with golang.org/x/oauth2 as the client and go-oidc
// verifying the ID token.
func TestFullFlowLibraries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withLocalConnector(t, "staff", "Staff directory"))
	alice := h.addUser("alice", testPassword, "admins", "dev")
	c := h.addRP("webapp", false)
	relying := h.relyingParty(c, oidc.ScopeOpenID, "email", "groups", oidc.ScopeOfflineAccess)
	b := h.browser()

	verifier := oauth2.GenerateVerifier()
	state, nonce := "state-"+storage.NewID(), "nonce-"+storage.NewID()
	authURL := relying.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	chooser := h.follow(b, authURL)
	h.wantKind(chooser, kindChooser)
	var targets []string
	for _, l := range links(chooser.Body) {
		if u, err := chooser.URL.Parse(l); err == nil {
			targets = append(targets, u.Path)
		}
	}
	if !slices.Contains(targets, "/login/local") || !slices.Contains(targets, "/login/staff") {
		t.Fatalf("chooser links %v, want both connectors", targets)
	}
	form := h.choose(b, chooser, "staff")
	f := parseForm(t, form.Body)
	if f.Fields.Get("req") == "" || f.Fields.Get("csrf") == "" {
		t.Fatalf("login form lacks req or csrf: %v", f.Fields)
	}
	consent := h.submitLogin(b, form, "alice", testPassword)
	cf := parseForm(t, consent.Body)
	for _, k := range []string{"req", "step", "csrf"} {
		if cf.Fields.Get(k) == "" {
			t.Fatalf("consent form lacks %s: %v", k, cf.Fields)
		}
	}
	loginTime := h.clock.Now()
	q := h.authzResponse(h.submitConsent(b, consent, "allow"), c.redirect)
	if q.Get("state") != state {
		t.Fatalf("state = %q, want %q", q.Get("state"), state)
	}

	h.clock.Advance(2 * time.Second)
	tok, err := relying.cfg.Exchange(relying.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token: type %q, refresh token %t", tok.TokenType, tok.RefreshToken != "")
	}
	id, claims := relying.verify(t, tok, nonce)
	if id.Issuer != h.issuer || id.Subject != alice || !slices.Equal(id.Audience, []string{c.ID}) || claims.Azp != c.ID {
		t.Errorf("iss %q sub %q aud %v azp %q; want %q %q [%s]", id.Issuer, id.Subject, id.Audience, claims.Azp, h.issuer, alice, c.ID)
	}
	if claims.AuthTime != loginTime.Unix() {
		t.Errorf("auth_time = %d, want %d", claims.AuthTime, loginTime.Unix())
	}
	if claims.Email == nil || *claims.Email != "alice@example.com" || claims.EmailVerified == nil || !*claims.EmailVerified {
		t.Errorf("email claims %v %v, want alice@example.com verified", claims.Email, claims.EmailVerified)
	}
	if !slices.Equal(claims.Groups, []string{"admins", "dev"}) {
		t.Errorf("groups = %v", claims.Groups)
	}
	if claims.Name != nil || claims.PreferredUsername != nil {
		t.Errorf("profile claims released without the profile scope: %v %v", claims.Name, claims.PreferredUsername)
	}
	if claims.SID == "" || !slices.Equal(claims.AMR, []string{"pwd"}) {
		t.Errorf("sid %q amr %v", claims.SID, claims.AMR)
	}

	ui, err := relying.provider.UserInfo(relying.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != alice || ui.Email != "alice@example.com" || !ui.EmailVerified {
		t.Errorf("userinfo sub %q email %q verified %t", ui.Subject, ui.Email, ui.EmailVerified)
	}

	h.clock.Advance(time.Minute)
	fresh, err := relying.cfg.TokenSource(relying.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Error("refresh did not rotate the refresh token and mint a new access token")
	}
	rid, rclaims := relying.verify(t, fresh, "")
	if rid.Subject != alice || rclaims.AuthTime != claims.AuthTime || !rid.IssuedAt.After(id.IssuedAt) {
		t.Errorf("refreshed ID token: sub %q auth_time %d iat %v; want %q %d after %v",
			rid.Subject, rclaims.AuthTime, rid.IssuedAt, alice, claims.AuthTime, id.IssuedAt)
	}
	if _, err := relying.provider.UserInfo(relying.ctx, oauth2.StaticTokenSource(fresh)); err != nil {
		t.Errorf("userinfo with the refreshed access token: %v", err)
	}
}

// TestClaimsPerScope checks which claims each scope releases, in the ID
// token and userinfo alike, for every signing algorithm Foyer offers.
func TestClaimsPerScope(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	alice := h.addUser("alice", testPassword, "admins")
	tests := []struct {
		name       string
		alg        string
		scope      string
		wantEmail  bool
		wantName   bool
		wantGroups bool
	}{
		{name: "openid only", alg: "RS256", scope: "openid"},
		{name: "email", alg: "ES256", scope: "openid email", wantEmail: true},
		{name: "profile", alg: "EdDSA", scope: "openid profile", wantName: true},
		{name: "groups", alg: "RS256", scope: "openid groups", wantGroups: true},
		{name: "all", alg: "EdDSA", scope: "openid email profile groups", wantEmail: true, wantName: true, wantGroups: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			c := h.addRP("claims"+string(rune('a'+i)), false, skipConsent, func(c *storage.Client) { c.SigningAlgorithm = tt.alg })
			relying := h.relyingParty(c)
			nonce := "n-" + storage.NewID()
			code, verifier := h.login(h.browser(), c, "alice", url.Values{"scope": {tt.scope}, "nonce": {nonce}})
			tok, err := relying.cfg.Exchange(relying.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			id, claims := relying.verify(t, tok, nonce)
			if id.Subject != alice {
				t.Errorf("sub = %q", id.Subject)
			}
			check := func(where string, email, name *string, groups []string) {
				if (email != nil) != tt.wantEmail || (name != nil) != tt.wantName || (groups != nil) != tt.wantGroups {
					t.Errorf("%s: email %t name %t groups %t; want %t %t %t", where,
						email != nil, name != nil, groups != nil, tt.wantEmail, tt.wantName, tt.wantGroups)
				}
			}
			check("id token", claims.Email, claims.Name, claims.Groups)
			ui := h.userinfo(tok.AccessToken)
			if ui.Status != http.StatusOK || ui.str("sub") != alice {
				t.Fatalf("userinfo: %d %v", ui.Status, ui.JSON)
			}
			var email, name *string
			if v, ok := ui.JSON["email"].(string); ok {
				email = &v
			}
			if v, ok := ui.JSON["name"].(string); ok {
				name = &v
			}
			var groups []string
			if v, ok := ui.JSON["groups"].([]any); ok {
				groups = []string{}
				for _, g := range v {
					groups = append(groups, g.(string))
				}
			}
			check("userinfo", email, name, groups)
		})
	}
}
