package oidc

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/connectors"
)

// maxErrorField caps the upstream's error and error_description as we
// carry them to the log.
const maxErrorField = 256

// HandleCallback implements connectors.CallbackConnector: it reads the
// upstream's answer, exchanges the code (with the PKCE verifier), verifies
// the ID token and its nonce, and maps the claims to an identity. An
// error= answer is a *connectors.UpstreamError; an account outside the
// hosted domains is a *connectors.Refusal.
func (c *Connector) HandleCallback(ctx context.Context, s connectors.Scopes, connState []byte, r *http.Request) (connectors.Identity, error) {
	var st loginState
	if err := json.Unmarshal(connState, &st); err != nil || st.Verifier == "" || st.Nonce == "" || st.RedirectURI == "" {
		return connectors.Identity{}, errors.New("oidc: callback without a login state")
	}
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		// response_mode=form_post: the answer is in the body.
		if err := r.ParseForm(); err == nil {
			q = r.Form
		}
	}
	if code := q.Get("error"); code != "" {
		return connectors.Identity{}, &connectors.UpstreamError{
			Code: clip(code), Description: clip(q.Get("error_description")),
		}
	}
	// RFC 9207: when the upstream names itself, it must be the one we
	// sent the browser to (a mix-up defence).
	if iss := q.Get("iss"); iss != "" && iss != c.cfg.Issuer {
		return connectors.Identity{}, fmt.Errorf("oidc: callback from issuer %q, want %q", clip(iss), c.cfg.Issuer)
	}
	code := q.Get("code")
	if code == "" {
		return connectors.Identity{}, errors.New("oidc: callback without a code")
	}
	up, err := c.upstream(ctx)
	if err != nil {
		return connectors.Identity{}, err
	}
	tok, err := c.oauth2Config(up, s, st.RedirectURI).Exchange(c.tokenContext(ctx), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return connectors.Identity{}, tokenError("code exchange", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return connectors.Identity{}, errors.New("oidc: the token response has no id_token")
	}
	idt, err := c.verify(ctx, up, raw)
	if err != nil {
		return connectors.Identity{}, err
	}
	switch {
	case idt.Nonce == "":
		return connectors.Identity{}, errors.New("oidc: id token without a nonce")
	case subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1:
		return connectors.Identity{}, errors.New("oidc: id token nonce does not match the login's")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return connectors.Identity{}, fmt.Errorf("oidc: at_hash: %w", err)
		}
	}
	id, err := c.identity(ctx, up, idt, tok)
	if err != nil {
		return connectors.Identity{}, err
	}
	if tok.RefreshToken != "" {
		if id.Data, err = json.Marshal(refreshData{RefreshToken: tok.RefreshToken, Subject: idt.Subject, Nonce: idt.Nonce}); err != nil {
			return connectors.Identity{}, fmt.Errorf("oidc: refresh data: %w", err)
		}
	}
	return id, nil
}

// tokenContext makes x/oauth2 use the capped token client.
func (c *Connector) tokenContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.tokenClient)
}

// tokenError turns a token endpoint failure into an error: an OAuth error
// answer (RFC 6749 §5.2) is an *connectors.UpstreamError, anything else
// (unreachable, 5xx, a reply too large) a plain error.
func tokenError(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" && re.Response != nil && re.Response.StatusCode < 500 {
		return fmt.Errorf("oidc: %s: %w", what, &connectors.UpstreamError{Code: clip(re.ErrorCode), Description: clip(re.ErrorDescription)})
	}
	return fmt.Errorf("oidc: %s: %w", what, err)
}

// verify checks an ID token (OIDC Core §3.1.3.7): its size first, then
// signature with an allowed algorithm, iss, aud, exp (go-oidc), and azp.
func (c *Connector) verify(ctx context.Context, up *upstream, raw string) (*gooidc.IDToken, error) {
	if len(raw) > maxIDToken {
		return nil, fmt.Errorf("oidc: id token of %d bytes is over the %d-byte cap", len(raw), maxIDToken)
	}
	v := up.provider.Verifier(&gooidc.Config{
		ClientID:             c.cfg.ClientID,
		SupportedSigningAlgs: c.cfg.SigningAlgs,
		Now:                  c.now,
	})
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("oidc: id token: %w", err)
	}
	var azp struct {
		AZP string `json:"azp"`
	}
	if err := idt.Claims(&azp); err != nil {
		return nil, fmt.Errorf("oidc: id token claims: %w", err)
	}
	if (azp.AZP != "" || len(idt.Audience) > 1) && azp.AZP != c.cfg.ClientID {
		return nil, fmt.Errorf("oidc: id token issued to %q (azp), not to us", clip(azp.AZP))
	}
	return idt, nil
}

// identity maps a verified ID token (and, when configured, userinfo) to
// an identity.
func (c *Connector) identity(ctx context.Context, up *upstream, idt *gooidc.IDToken, tok *oauth2.Token) (connectors.Identity, error) {
	claims, err := decodeClaims(idt.Claims)
	if err != nil {
		return connectors.Identity{}, fmt.Errorf("oidc: id token claims: %w", err)
	}
	if c.cfg.GetUserInfo {
		if err := c.mergeUserInfo(ctx, up, idt.Subject, tok, claims); err != nil {
			return connectors.Identity{}, err
		}
	}
	return c.mapClaims(claims)
}

// mergeUserInfo reads the userinfo endpoint (OIDC Core §5.3) and lets its
// claims override the ID token's. Its sub must be the ID token's
// (§5.3.2).
func (c *Connector) mergeUserInfo(ctx context.Context, up *upstream, sub string, tok *oauth2.Token, claims map[string]any) error {
	if up.provider.UserInfoEndpoint() == "" {
		return errors.New("oidc: getUserInfo is set but the upstream has no userinfo endpoint")
	}
	ui, err := up.provider.UserInfo(c.tokenContext(ctx), oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("oidc: userinfo: %w", err)
	}
	if ui.Subject != sub {
		return errors.New("oidc: userinfo is about another subject than the id token")
	}
	extra, err := decodeClaims(ui.Claims)
	if err != nil {
		return fmt.Errorf("oidc: userinfo claims: %w", err)
	}
	for k, v := range extra {
		switch k {
		case "sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "azp":
		default:
			claims[k] = v
		}
	}
	return nil
}

// mapClaims builds the identity from the claims, using the configured
// keys, and applies the hosted-domain policy.
func (c *Connector) mapClaims(claims map[string]any) (connectors.Identity, error) {
	sub := stringClaim(claims[c.cfg.UserIDKey])
	if sub == "" {
		return connectors.Identity{}, fmt.Errorf("oidc: the %q claim (the user id) is missing or empty", c.cfg.UserIDKey)
	}
	if len(c.cfg.HostedDomains) > 0 {
		hd := strings.ToLower(stringClaim(claims["hd"]))
		if hd == "" || !slices.Contains(c.cfg.HostedDomains, hd) {
			return connectors.Identity{}, &connectors.Refusal{
				Reason: "This account's domain may not log in here.",
				Detail: fmt.Sprintf("hosted domain %q is not one of %v", clip(hd), c.cfg.HostedDomains),
			}
		}
	}
	id := connectors.Identity{
		Subject:  sub,
		Username: stringClaim(claims[c.cfg.UserNameKey]),
		Email:    stringClaim(claims[c.cfg.EmailKey]),
		Name:     stringClaim(claims[c.cfg.NameKey]),
		Groups:   stringsClaim(claims[c.cfg.GroupsKey]),
		// How the person authenticated upstream (RFC 8176) travels on.
		AMR: stringsClaim(claims["amr"]),
	}
	switch v := claims[c.cfg.EmailVerifiedKey].(type) {
	case bool:
		id.EmailVerified = v
	case string:
		// Some upstreams (AWS Cognito) send "true" as a string.
		id.EmailVerified = strings.EqualFold(v, "true")
	}
	if c.cfg.InsecureSkipEmailVerified {
		id.EmailVerified = true
	}
	if id.Email == "" {
		id.EmailVerified = false
	}
	return id, nil
}

// decodeClaims decodes a claims object keeping numbers as written, so that
// a numeric user id beyond 2^53 keeps its digits.
func decodeClaims(claims func(any) error) (map[string]any, error) {
	var raw json.RawMessage
	if err := claims(&raw); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// stringClaim reads a string claim; a number (some upstreams' user ids) is
// taken as written; anything else is "".
func stringClaim(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// stringsClaim reads a list of strings (non-strings are skipped) or a
// single string.
func stringsClaim(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// clip shortens what an upstream sent before it goes into an error.
func clip(s string) string {
	if len(s) > maxErrorField {
		s = s[:maxErrorField] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
