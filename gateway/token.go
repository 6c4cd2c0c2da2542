package gateway

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/foyerid/foyer/storage"
)

// grantHandler serves one grant type for an authenticated client.
type grantHandler func(r *http.Request, client storage.Client, form url.Values) (*tokenResponse, error)

// tokenResponse is RFC 6749 §5.1 plus OIDC Core §3.1.3.3.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// handleToken is the token endpoint (RFC 6749 §3.2). Client
// authentication, the grant type check and the client's permission to use
// it run here, once and in this order, for every grant.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, err := tokenForm(r)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	gt := form.Get("grant_type")
	if gt == "" {
		s.writeJSONError(w, r, errInvalidRequest("grant_type is required."))
		return
	}
	handler, ok := s.grants[gt]
	if !ok {
		s.writeJSONError(w, r, errUnsupportedGrantType("grant_type "+gt+" is not supported."))
		return
	}
	client, err := s.authenticateClient(r, form)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	if !grantAllowed(client, gt) {
		s.writeJSONError(w, r, errUnauthorizedClient("This client may not use grant_type "+gt+"."))
		return
	}
	resp, err := handler(r, client, form)
	if err != nil {
		s.metrics.tokens.WithLabelValues(gt, asOAuthError(err).Code).Inc()
		s.writeJSONError(w, r, err)
		return
	}
	s.metrics.tokens.WithLabelValues(gt, "ok").Inc()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(resp)
}

// tokenForm reads a form-encoded POST body and refuses repeated parameters
// (RFC 6749 §3.2).
func tokenForm(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("The body must be application/x-www-form-urlencoded.")
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errInvalidRequest("The request body is too large.")
		}
		return nil, errInvalidRequest("The body could not be read.")
	}
	if len(r.URL.RawQuery) > 0 {
		// Parameters belong in the body; a query would let a secret leak
		// into logs.
		return nil, errInvalidRequest("Token request parameters must be in the body, not the URL.")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, errInvalidRequest("Parameter " + k + " was included more than once.")
		}
	}
	return r.PostForm, nil
}

// authenticateClient implements client_secret_basic, client_secret_post
// and none (RFC 6749 §2.3.1, OIDC Core §9). Secrets are compared in
// constant time against their stored hash.
func (s *Server) authenticateClient(r *http.Request, form url.Values) (storage.Client, error) {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	basicID, basicSecret, hasBasic := r.BasicAuth()
	if hasBasic {
		if secret != "" {
			return storage.Client{}, errInvalidRequest("Use one client authentication method, not two.")
		}
		// RFC 6749 §2.3.1: both parts are form-urlencoded.
		bid, err1 := url.QueryUnescape(basicID)
		bsecret, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return storage.Client{}, errInvalidClient("Malformed client credentials.")
		}
		if id != "" && id != bid {
			return storage.Client{}, errInvalidRequest("client_id does not match the Authorization header.")
		}
		id, secret = bid, bsecret
	}
	if id == "" {
		return storage.Client{}, errInvalidClient("Client authentication is required.")
	}
	if !validClientID(id) {
		return storage.Client{}, errInvalidClient("Unknown client or wrong credentials.")
	}
	client, err := s.dir.Client(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, errInvalidClient("Unknown client or wrong credentials.")
	}
	if err != nil {
		return storage.Client{}, err
	}
	if client.Public {
		if secret != "" {
			return storage.Client{}, errInvalidClient("Public clients do not authenticate with a secret.")
		}
		return client, nil
	}
	if !clientSecretOK(client.SecretHash, secret) {
		return storage.Client{}, errInvalidClient("Unknown client or wrong credentials.")
	}
	return client, nil
}

// clientForm reads a form-encoded POST and authenticates its client, for
// the endpoints beside /token (device authorization, revocation,
// introspection). On failure it writes the JSON error and returns false.
func (s *Server) clientForm(w http.ResponseWriter, r *http.Request) (url.Values, storage.Client, bool) {
	form, err := tokenForm(r)
	if err == nil {
		var client storage.Client
		if client, err = s.authenticateClient(r, form); err == nil {
			return form, client, true
		}
	}
	s.writeJSONError(w, r, err)
	return nil, storage.Client{}, false
}
