package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/foyerid/foyer/storage"
)

// idTokenClaims are the ID token's claims (OIDC Core §2, §5.1).
type idTokenClaims struct {
	Iss               string   `json:"iss"`
	Sub               string   `json:"sub"`
	Aud               string   `json:"aud"`
	Azp               string   `json:"azp"`
	Exp               int64    `json:"exp"`
	Iat               int64    `json:"iat"`
	AuthTime          int64    `json:"auth_time,omitempty"`
	Nonce             string   `json:"nonce,omitempty"`
	AtHash            string   `json:"at_hash,omitempty"`
	AMR               []string `json:"amr,omitempty"`
	SID               string   `json:"sid,omitempty"`
	IDP               string   `json:"idp,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	Identities        []string `json:"identities,omitempty"`
}

// accessTokenClaims follow RFC 9068 §2.2.
type accessTokenClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	ClientID string `json:"client_id"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	JTI      string `json:"jti"`
	Scope    string `json:"scope,omitempty"`
	AuthTime int64  `json:"auth_time,omitempty"`
	SID      string `json:"sid,omitempty"`
}

// scopedClaims are the user claims a set of scopes releases, shared by the
// ID token and userinfo.
type scopedClaims struct {
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	Identities        []string `json:"identities,omitempty"`
}

func releaseClaims(c storage.Claims, scopes []string) scopedClaims {
	var out scopedClaims
	if slices.Contains(scopes, scopeEmail) && c.Email != "" {
		v := c.EmailVerified
		out.Email, out.EmailVerified = c.Email, &v
	}
	if slices.Contains(scopes, scopeProfile) {
		out.Name, out.PreferredUsername = c.Name, c.Username
	}
	if slices.Contains(scopes, scopeGroups) {
		out.Groups = c.Groups
		if out.Groups == nil {
			out.Groups = []string{}
		}
	}
	return out
}

// mint signs the access token and, for openid requests, the ID token of a
// grant, for the given (possibly narrowed) scopes.
func (s *Server) mint(ctx context.Context, client storage.Client, g storage.Grant, scopes []string, nonce, refresh string) (*tokenResponse, error) {
	now := s.now().UTC()
	at := accessTokenClaims{
		Iss: s.issuer, Sub: g.Login.UserID, Aud: client.ID, ClientID: client.ID,
		Iat: now.Unix(), Exp: now.Add(s.life.AccessToken).Unix(),
		JTI:   g.ID + "." + storage.NewID(),
		Scope: strings.Join(scopes, " "), SID: g.Login.SessionID,
	}
	if !g.Login.AuthTime.IsZero() {
		at.AuthTime = g.Login.AuthTime.Unix()
	}
	access, err := s.keys.Sign("", typAccessToken, at)
	if err != nil {
		return nil, fmt.Errorf("gateway: sign access token: %w", err)
	}
	resp := &tokenResponse{
		AccessToken: access, TokenType: "Bearer",
		ExpiresIn: int64(s.life.AccessToken / time.Second), RefreshToken: refresh,
		Scope: strings.Join(scopes, " "),
	}
	if !slices.Contains(scopes, scopeOpenID) {
		return resp, nil
	}
	alg := client.SigningAlgorithm
	if alg == "" {
		alg = s.keys.DefaultAlgorithm()
	}
	rel := releaseClaims(g.Login.Claims, scopes)
	if rel.Identities, err = s.linkedConnectors(ctx, g.Login.UserID, scopes); err != nil {
		return nil, err
	}
	id := idTokenClaims{
		Iss: s.issuer, Sub: g.Login.UserID, Aud: client.ID, Azp: client.ID,
		Iat: at.Iat, Exp: now.Add(s.life.IDToken).Unix(), Nonce: nonce,
		AtHash: halfHash(alg, access), AMR: g.Login.AMR, SID: g.Login.SessionID, IDP: g.Login.ConnectorID,
		Email: rel.Email, EmailVerified: rel.EmailVerified, Name: rel.Name,
		PreferredUsername: rel.PreferredUsername, Groups: rel.Groups, Identities: rel.Identities,
	}
	if !g.Login.AuthTime.IsZero() {
		id.AuthTime = g.Login.AuthTime.Unix()
	}
	if resp.IDToken, err = s.keys.Sign(alg, typIDToken, id); err != nil {
		return nil, fmt.Errorf("gateway: sign id token: %w", err)
	}
	return resp, nil
}

// halfHash is at_hash (OIDC Core §3.1.3.6): the left half of the hash of
// the token, with the hash of the signing algorithm (SHA-512 for EdDSA, as
// Ed25519 uses it).
func halfHash(alg, token string) string {
	var h hash.Hash
	switch alg {
	case "EdDSA":
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// linkedConnectors is the identities claim (scope identities): the
// connectors through which the user can log in, local password first.
func (s *Server) linkedConnectors(ctx context.Context, userID string, scopes []string) ([]string, error) {
	if !slices.Contains(scopes, scopeIdentities) {
		return nil, nil
	}
	out := []string{}
	if u, err := s.dir.User(ctx, userID); err == nil && u.PasswordHash != "" {
		for _, id := range s.connectorOrder {
			if s.connectors[id].Type == "local" {
				out = append(out, id)
			}
		}
	}
	ids, err := s.dir.IdentitiesByUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, i := range ids {
		if !slices.Contains(out, i.ConnectorID) {
			out = append(out, i.ConnectorID)
		}
	}
	return out, nil
}

// newGrant builds the grant a login gives a client, with its first refresh
// token when the client may refresh (returned in clear, once; the grant
// keeps its hash). The grant lives as long as its access tokens, or as the
// refresh token's idle and absolute lifetimes allow.
func (s *Server) newGrant(client storage.Client, id string, scopes []string, login storage.Login, offline bool) (storage.Grant, string) {
	now := s.now().UTC()
	g := storage.Grant{ID: id, ClientID: client.ID, Scopes: scopes, Login: login, Offline: offline, CreatedAt: now}
	g.ExpiresAt = now.Add(s.life.AccessToken)
	g.AbsoluteExpiresAt = g.ExpiresAt
	if !grantAllowed(client, grantRefreshToken) {
		return g, ""
	}
	refresh := storage.NewSecret()
	g.TokenHash = storage.HashSecret(refresh)
	g.AbsoluteExpiresAt = now.Add(s.life.RefreshAbsolute)
	g.ExpiresAt = minTime(now.Add(s.life.RefreshIdle), g.AbsoluteExpiresAt)
	return g, refresh
}
