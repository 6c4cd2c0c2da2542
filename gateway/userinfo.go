package gateway

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/foyerid/foyer/storage"
)

// handleUserinfo is the UserInfo endpoint (OIDC Core §5.3): the same claims
// as the ID token, for a valid access token from a live grant.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	token, err := bearerToken(r)
	if err != nil {
		s.writeBearerError(w, r, err)
		return
	}
	claims, g, err := s.checkAccessToken(r, token)
	if err != nil {
		s.writeBearerError(w, r, err)
		return
	}
	scopes := strings.Fields(claims.Scope)
	if !slices.Contains(scopes, scopeOpenID) {
		s.writeBearerError(w, r, newOAuthError("insufficient_scope", http.StatusForbidden, "The access token lacks the openid scope."))
		return
	}
	rel := releaseClaims(g.Login.Claims, scopes)
	if rel.Identities, err = s.linkedConnectors(r.Context(), claims.Sub, scopes); err != nil {
		s.writeBearerError(w, r, err)
		return
	}
	out := struct {
		Sub string `json:"sub"`
		scopedClaims
	}{claims.Sub, rel}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// bearerToken reads the access token from the Authorization header or a
// form body (RFC 6750 §2.1, §2.2); never from the query.
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	var form string
	if r.Method == http.MethodPost {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err != nil {
				return "", errInvalidRequest("The body could not be read.")
			}
			form = r.PostForm.Get("access_token")
		}
	}
	switch {
	case h != "" && form != "":
		return "", errInvalidRequest("Send the token one way only.")
	case h != "":
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", errInvalidRequest("The Authorization header must be Bearer.")
		}
		return strings.TrimSpace(tok), nil
	case form != "":
		return form, nil
	}
	return "", errNoToken
}

var errNoToken = errors.New("gateway: no bearer token")

// checkAccessToken verifies an access token Foyer issued and that its grant
// is live and its user enabled.
func (s *Server) checkAccessToken(r *http.Request, token string) (accessTokenClaims, storage.Grant, error) {
	var c accessTokenClaims
	if len(token) > 8192 {
		return c, storage.Grant{}, errInvalidToken("The access token is not valid.")
	}
	payload, err := s.keys.Verify(token, typAccessToken)
	if err != nil {
		return c, storage.Grant{}, errInvalidToken("The access token is not valid.")
	}
	c, ok := s.accessClaims(payload)
	if !ok {
		return c, storage.Grant{}, errInvalidToken("The access token is not valid or has expired.")
	}
	grantID, _, ok := strings.Cut(c.JTI, ".")
	if !ok {
		return c, storage.Grant{}, errInvalidToken("The access token is not valid.")
	}
	g, err := s.state.Grant(r.Context(), grantID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (g.Revoked || g.Login.UserID != c.Sub)) {
		return c, storage.Grant{}, errInvalidToken("The access token has been revoked.")
	}
	if err != nil {
		return c, storage.Grant{}, err
	}
	u, err := s.dir.User(r.Context(), c.Sub)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		return c, storage.Grant{}, errInvalidToken("The user is no longer valid.")
	}
	if err != nil {
		return c, storage.Grant{}, err
	}
	return c, g, nil
}

// writeBearerError answers a protected-resource error (RFC 6750 §3).
func (s *Server) writeBearerError(w http.ResponseWriter, r *http.Request, err error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if errors.Is(err, errNoToken) {
		h.Set("WWW-Authenticate", `Bearer realm="foyer"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	e := asOAuthError(err)
	s.logOAuthError(r, e, "userinfo refused")
	if e.Status < 500 {
		h.Set("WWW-Authenticate", `Bearer realm="foyer", error="`+e.Code+`", error_description="`+strings.ReplaceAll(e.Description, `"`, "'")+`"`)
	}
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": e.Code, "error_description": e.Description})
}

// accessClaims reads a verified access token's claims and checks that
// Foyer issued it and that it has not expired.
func (s *Server) accessClaims(payload []byte) (accessTokenClaims, bool) {
	var c accessTokenClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Iss != s.issuer || c.Sub == "" {
		return c, false
	}
	return c, s.now().Unix() < c.Exp
}
