package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/foyerid/foyer/storage"
)

// introspection is an RFC 7662 §2.2 answer.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	JTI       string `json:"jti,omitempty"`
}

// handleIntrospect is the introspection endpoint (RFC 7662) for resource
// servers: a confidential client asks whether a token is active. A token is
// active while it verifies, has not expired, its grant is live and not
// revoked, and its user is enabled; a refresh token only while it is its
// grant's current token. Anything else is {"active": false}, with no
// reason given (§2.2).
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, client, ok := s.clientForm(w, r)
	if !ok {
		return
	}
	if client.Public {
		// §4: the endpoint must not help an anonymous party scan tokens.
		s.writeJSONError(w, r, errInvalidClient("Public clients may not introspect tokens."))
		return
	}
	token := form.Get("token")
	if token == "" {
		s.writeJSONError(w, r, errInvalidRequest("token is required."))
		return
	}
	out, err := s.introspect(r, token)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) introspect(r *http.Request, token string) (introspection, error) {
	inactive := introspection{}
	if len(token) > 8192 {
		return inactive, nil
	}
	if !strings.Contains(token, ".") {
		g, err := s.state.GrantByRefreshToken(r.Context(), storage.HashSecret(token))
		if errors.Is(err, storage.ErrNotFound) {
			return inactive, nil
		}
		if err != nil {
			return inactive, err
		}
		if g.Revoked || g.TokenHash != storage.HashSecret(token) || !s.userActive(r, g.Login.UserID) {
			return inactive, nil
		}
		return introspection{
			Active: true, Scope: strings.Join(g.Scopes, " "), ClientID: g.ClientID,
			Username: g.Login.Claims.Username, TokenType: "refresh_token",
			Exp: g.ExpiresAt.Unix(), Iat: g.CreatedAt.Unix(), Sub: g.Login.UserID, Iss: s.issuer,
		}, nil
	}
	c, g, err := s.checkAccessToken(r, token)
	if err != nil {
		var oe *oauthError
		if errors.As(err, &oe) && oe.Status < 500 {
			return inactive, nil
		}
		return inactive, err
	}
	return introspection{
		Active: true, Scope: c.Scope, ClientID: c.ClientID, Username: g.Login.Claims.Username,
		TokenType: "Bearer", Exp: c.Exp, Iat: c.Iat, Sub: c.Sub, Aud: c.Aud, Iss: c.Iss, JTI: c.JTI,
	}, nil
}

// userActive: the user exists and is enabled (a store failure counts as
// not active for the caller, and is logged).
func (s *Server) userActive(r *http.Request, id string) bool {
	u, err := s.dir.User(r.Context(), id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.logger.WarnContext(r.Context(), "introspect: user lookup", "err", err)
	}
	return err == nil && !u.Disabled
}
