package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/foyerid/foyer/storage"
)

// grantCode exchanges an authorization code (RFC 6749 §4.1.3). The code is
// single use: a second presentation fails and revokes the grant the first
// one created (RFC 6749 §4.1.2, RFC 9700 §4.14).
func (s *Server) grantCode(r *http.Request, client storage.Client, form url.Values) (*tokenResponse, error) {
	ctx := r.Context()
	code := form.Get("code")
	if code == "" || len(code) > 128 {
		return nil, errInvalidRequest("code is required.")
	}
	ac, err := s.state.RedeemAuthCode(ctx, storage.HashSecret(code))
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		s.revokeCodeGrant(ctx, ac)
		s.logger.WarnContext(ctx, "authorization code reused: grant revoked", "client_id", ac.ClientID, "user_id", ac.Login.UserID)
		return nil, errInvalidGrant("The authorization code was already used.")
	case errors.Is(err, storage.ErrNotFound):
		return nil, errInvalidGrant("The authorization code is not valid or has expired.")
	case err != nil:
		return nil, err
	}
	if ac.ClientID != client.ID {
		return nil, errInvalidGrant("The authorization code was issued to another client.")
	}
	redirect := form.Get("redirect_uri")
	if redirect == "" && len(client.RedirectURIs) == 1 {
		redirect = client.RedirectURIs[0]
	}
	if redirect != ac.RedirectURI {
		return nil, errInvalidGrant("redirect_uri does not match the authorization request.")
	}
	if err := checkPKCE(ac, form.Get("code_verifier")); err != nil {
		return nil, err
	}
	if err := s.checkLogin(r, client, ac.Login); err != nil {
		return nil, err
	}
	g, refresh := s.newGrant(client, ac.GrantID, ac.Scopes, ac.Login, slices.Contains(ac.Scopes, scopeOfflineAccess))
	if err := s.state.CreateGrant(ctx, g); errors.Is(err, storage.ErrConflict) {
		// The code was presented again meanwhile: revokeCodeGrant holds
		// the grant's id.
		return nil, errInvalidGrant("The authorization code was already used.")
	} else if err != nil {
		return nil, err
	}
	return s.mint(ctx, client, g, ac.Scopes, ac.Nonce, refresh)
}

// revokeCodeGrant revokes the grant the first redemption of a reused code
// created. If that redemption has not created it yet, a revoked
// placeholder takes the grant's id, so its CreateGrant fails instead of
// issuing tokens nobody will revoke.
func (s *Server) revokeCodeGrant(ctx context.Context, ac storage.AuthCode) {
	for range 2 {
		err := s.state.RevokeGrant(ctx, ac.GrantID)
		if !errors.Is(err, storage.ErrNotFound) {
			if err != nil {
				s.logger.ErrorContext(ctx, "revoke grant of a reused code", "client_id", ac.ClientID, "err", err)
			}
			return
		}
		now := s.now().UTC()
		err = s.state.CreateGrant(ctx, storage.Grant{
			ID: ac.GrantID, ClientID: ac.ClientID, Revoked: true, RevokedAt: now,
			CreatedAt: now, ExpiresAt: now.Add(s.life.AuthCode), AbsoluteExpiresAt: now.Add(s.life.AuthCode),
		})
		if !errors.Is(err, storage.ErrConflict) {
			if err != nil {
				s.logger.ErrorContext(ctx, "hold the grant id of a reused code", "client_id", ac.ClientID, "err", err)
			}
			return
		}
		// The first redemption created the grant meanwhile: revoke it.
	}
}

// checkPKCE verifies code_verifier against the code's challenge (RFC 7636
// §4.6). A verifier sent for a code issued without a challenge is refused,
// so PKCE cannot be downgraded (RFC 9700 §2.1.1).
func checkPKCE(ac storage.AuthCode, verifier string) error {
	if ac.CodeChallenge == "" {
		if verifier != "" {
			return errInvalidGrant("code_verifier sent, but the authorization request had no code_challenge.")
		}
		return nil
	}
	if verifier == "" {
		return errInvalidGrant("code_verifier is required.")
	}
	if !validVerifier(verifier) {
		return errInvalidGrant("code_verifier is malformed.")
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(ac.CodeChallenge)) != 1 {
		return errInvalidGrant("code_verifier does not match the code_challenge.")
	}
	return nil
}

// validVerifier: 43 to 128 unreserved characters (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// checkLogin re-checks, at the token endpoint, what may have changed since
// the login: the user still exists and is enabled, and the client may
// still use the connector.
func (s *Server) checkLogin(r *http.Request, client storage.Client, l storage.Login) error {
	if !s.connectorAllowed(client, l.ConnectorID) {
		return errInvalidGrant("This client may no longer use the login method of this grant.")
	}
	u, err := s.dir.User(r.Context(), l.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return errInvalidGrant("The user no longer exists.")
	}
	if err != nil {
		return err
	}
	if u.Disabled {
		return errInvalidGrant("The user is disabled.")
	}
	return nil
}
