package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/connectors"
)

// refreshData is what an identity keeps (in Identity.Data) to refresh
// upstream later. It holds the upstream's refresh token: never log it.
type refreshData struct {
	RefreshToken string `json:"refresh_token"`
	// Subject is the upstream's sub, which a refreshed ID token or
	// userinfo answer must repeat.
	Subject string `json:"sub"`
	// Nonce is the login's nonce, which a refreshed ID token that carries
	// one must repeat (OIDC Core §12.2).
	Nonce string `json:"nonce,omitempty"`
}

// Refresh implements connectors.RefreshConnector. With an upstream refresh
// token, it refreshes upstream (RFC 6749 §6) and returns the identity as
// the new ID token (or userinfo) describes it, keeping the rotated refresh
// token; the upstream refusing (invalid_grant) is connectors.ErrIdentityGone.
// Without one, the identity is returned unchanged.
func (c *Connector) Refresh(ctx context.Context, s connectors.Scopes, id connectors.Identity) (connectors.Identity, error) {
	if len(id.Data) == 0 {
		return id, nil
	}
	var d refreshData
	if err := json.Unmarshal(id.Data, &d); err != nil {
		// Without it we cannot vouch for the account any more: the person
		// logs in again.
		return connectors.Identity{}, fmt.Errorf("oidc: unreadable refresh data: %w", connectors.ErrIdentityGone)
	}
	if d.RefreshToken == "" {
		return id, nil
	}
	up, err := c.upstream(ctx)
	if err != nil {
		return connectors.Identity{}, err
	}
	ts := c.oauth2Config(up, s, c.cfg.RedirectURI).TokenSource(c.tokenContext(ctx), &oauth2.Token{RefreshToken: d.RefreshToken})
	tok, err := ts.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return connectors.Identity{}, fmt.Errorf("oidc: upstream refused the refresh (%s): %w", clip(re.ErrorDescription), connectors.ErrIdentityGone)
		}
		return connectors.Identity{}, tokenError("refresh", err)
	}
	fresh := id
	switch raw, _ := tok.Extra("id_token").(string); {
	case raw != "":
		idt, err := c.verify(ctx, up, raw)
		if err != nil {
			return connectors.Identity{}, err
		}
		if idt.Nonce != "" && d.Nonce != "" && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(d.Nonce)) != 1 {
			return connectors.Identity{}, errors.New("oidc: refreshed id token has another nonce than the login's")
		}
		if d.Subject != "" && idt.Subject != d.Subject {
			return connectors.Identity{}, fmt.Errorf("oidc: refreshed id token is about another subject: %w", connectors.ErrIdentityGone)
		}
		if fresh, err = c.identity(ctx, up, idt, tok); err != nil {
			return connectors.Identity{}, err
		}
	case c.cfg.GetUserInfo && d.Subject != "":
		claims := map[string]any{"sub": d.Subject}
		if err := c.mergeUserInfo(ctx, up, d.Subject, tok, claims); err != nil {
			return connectors.Identity{}, err
		}
		if fresh, err = c.mapClaims(claims); err != nil {
			return connectors.Identity{}, err
		}
	}
	if fresh.Subject != id.Subject {
		return connectors.Identity{}, fmt.Errorf("oidc: refreshed identity is another account: %w", connectors.ErrIdentityGone)
	}
	// x/oauth2 keeps the old refresh token when the upstream sends none.
	d.RefreshToken = tok.RefreshToken
	if fresh.Data, err = json.Marshal(d); err != nil {
		return connectors.Identity{}, fmt.Errorf("oidc: refresh data: %w", err)
	}
	return fresh, nil
}
