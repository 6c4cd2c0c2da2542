package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/storage"
)

// The demo app (dev mode only) is an ordinary OIDC client of this Foyer,
// built on golang.org/x/oauth2 and coreos/go-oidc and talking to it over
// HTTP like any other application: /demo starts a login, /demo/callback
// exchanges the code and shows the decoded tokens.

const demoCookie = "foyer_demo"

type demoApp struct {
	s        *Server
	mu       sync.Mutex
	provider *oidc.Provider
}

func (s *Server) demoRoutes(mux *http.ServeMux, prefix string) {
	d := &demoApp{s: s}
	mux.HandleFunc(prefix+"/demo", allowMethods(d.home, http.MethodGet))
	mux.HandleFunc(prefix+"/demo/login", allowMethods(d.login, http.MethodGet))
	mux.HandleFunc(prefix+"/demo/callback", allowMethods(d.callback, http.MethodGet))
}

func (d *demoApp) config(ctx context.Context) (*oauth2.Config, *oidc.Provider, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.provider == nil {
		p, err := oidc.NewProvider(ctx, d.s.issuer)
		if err != nil {
			return nil, nil, err
		}
		d.provider = p
	}
	return &oauth2.Config{
		ClientID:     d.s.demo.ID,
		ClientSecret: d.s.demo.Secret,
		Endpoint:     d.provider.Endpoint(),
		RedirectURL:  d.s.url("/demo/callback"),
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile", "groups", oidc.ScopeOfflineAccess},
	}, d.provider, nil
}

type demoPage struct {
	LoggedIn  bool
	Error     string
	Sections  []demoSection
	ClientID  string
	LoginPath string
}

type demoSection struct{ Title, Body string }

func (d *demoApp) home(w http.ResponseWriter, r *http.Request) {
	d.s.render(w, r, http.StatusOK, "demo", "Demo application", demoPage{ClientID: d.s.demo.ID, LoginPath: d.s.basePath() + "/demo/login"})
}

func (d *demoApp) login(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	cfg, _, err := d.config(ctx)
	if err != nil {
		d.s.logger.ErrorContext(ctx, "demo: discovery", "err", err)
		d.s.renderError(w, r, http.StatusBadGateway, "Demo unavailable", "The demo app could not read Foyer's discovery document.")
		return
	}
	state, nonce, verifier := storage.NewID(), storage.NewID(), oauth2.GenerateVerifier()
	val := state + "." + nonce + "." + verifier
	http.SetCookie(w, &http.Cookie{
		Name: demoCookie, Value: val + "." + d.s.mac("demo", val), Path: d.s.cookiePath + "demo",
		HttpOnly: true, Secure: d.s.secure, SameSite: http.SameSiteLaxMode, MaxAge: 600,
	})
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if p := r.URL.Query().Get("prompt"); p == "login" || p == "consent" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", p))
	}
	http.Redirect(w, r, cfg.AuthCodeURL(state, opts...), http.StatusFound)
}

func (d *demoApp) callback(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	page := demoPage{ClientID: d.s.demo.ID, LoginPath: d.s.basePath() + "/demo/login"}
	show := func(msg string) {
		page.Error = msg
		d.s.render(w, r, http.StatusOK, "demo", "Demo application", page)
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		show("Foyer answered with an error: " + e + ": " + q.Get("error_description"))
		return
	}
	c, err := r.Cookie(demoCookie)
	parts := []string{}
	if err == nil {
		parts = strings.Split(c.Value, ".")
	}
	if len(parts) != 4 || !d.s.checkMAC(parts[3], "demo", strings.Join(parts[:3], ".")) || q.Get("state") != parts[0] {
		show("The state does not match this browser's login; start again.")
		return
	}
	if q.Get("iss") != d.s.issuer {
		show("The iss parameter does not name this Foyer (RFC 9207).")
		return
	}
	cfg, provider, err := d.config(ctx)
	if err != nil {
		show("Discovery failed.")
		return
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		show("The code exchange failed: " + err.Error())
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		show("The ID token did not verify: " + err.Error())
		return
	}
	if idt.Nonce != parts[1] {
		show("The ID token's nonce does not match.")
		return
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		show("at_hash does not match the access token.")
		return
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	userinfo := "(userinfo failed: " + errString(err) + ")"
	if err == nil {
		var claims json.RawMessage
		if info.Claims(&claims) == nil {
			userinfo = indentJSON(claims)
		}
	}
	page.LoggedIn = true
	page.Sections = []demoSection{
		{"ID token header", decodeSegment(raw, 0)},
		{"ID token claims (verified with go-oidc)", decodeSegment(raw, 1)},
		{"Access token claims (RFC 9068 JWT)", decodeSegment(tok.AccessToken, 1)},
		{"UserInfo response", userinfo},
		{"Token response", indentJSON(mustJSON(map[string]any{
			"token_type": tok.TokenType, "expires_in": tok.ExpiresIn, "refresh_token_received": tok.RefreshToken != "",
			"scope": tok.Extra("scope"),
		}))},
	}
	d.s.render(w, r, http.StatusOK, "demo", "Demo application", page)
}

func decodeSegment(jwt string, i int) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "(not a JWT)"
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		return "(undecodable)"
	}
	return indentJSON(b)
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
