package gateway

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/foyerid/foyer/storage"
)

// Limits on request parameters, so a request cannot fill the store.
const (
	maxStateLen     = 2048
	maxNonceLen     = 512
	maxLoginHintLen = 256
)

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1, OIDC Core
// §3.1.2). Errors it may not redirect (unknown client, unregistered
// redirect URI) become a page; the rest go back to the client.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	params, err := requestParams(r)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, "Invalid request", "The authorization request could not be read.")
		return
	}
	client, redirectURI, ok := s.authorizeClient(w, r, params)
	if !ok {
		return
	}
	req, oerr := s.parseAuthorize(r, params, client, redirectURI)
	if oerr != nil {
		s.logOAuthError(r, oerr, "authorize refused")
		s.redirectError(w, r, redirectURI, req.ResponseMode, req.State, oerr)
		return
	}
	s.startFlow(w, r, client, req, params.Get("id_token_hint"))
}

// requestParams reads GET query or POST form parameters (OIDC Core
// §3.1.2.1 allows both), keeping duplicates so they can be refused.
func requestParams(r *http.Request) (url.Values, error) {
	if r.Method == http.MethodGet {
		return url.ParseQuery(r.URL.RawQuery)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return nil, errors.New("gateway: authorize POST must be form-encoded")
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// authorizeClient checks client_id and redirect_uri, answering with a page
// (never a redirect) when either is wrong.
func (s *Server) authorizeClient(w http.ResponseWriter, r *http.Request, params url.Values) (storage.Client, string, bool) {
	ids := params["client_id"]
	if len(ids) != 1 || !validClientID(ids[0]) {
		s.renderError(w, r, http.StatusBadRequest, "Invalid request", "The application did not identify itself correctly (client_id).")
		return storage.Client{}, "", false
	}
	client, err := s.dir.Client(r.Context(), ids[0])
	if errors.Is(err, storage.ErrNotFound) {
		s.logger.InfoContext(r.Context(), "authorize: unknown client", "request_id", requestID(r.Context()))
		s.renderError(w, r, http.StatusBadRequest, "Unknown application", "The application that sent you here is not registered with this server.")
		return storage.Client{}, "", false
	}
	if err != nil {
		s.storeErrorPage(w, r, err)
		return storage.Client{}, "", false
	}
	uris := params["redirect_uri"]
	var uri string
	switch {
	case len(uris) > 1:
		uri = ""
	case len(uris) == 1:
		uri = uris[0]
	case len(client.RedirectURIs) == 1:
		// RFC 6749 §3.1.2.3: optional when exactly one is registered.
		uri = client.RedirectURIs[0]
	}
	if !redirectAllowed(client, uri) {
		s.logger.InfoContext(r.Context(), "authorize: redirect_uri not registered", "client_id", client.ID, "request_id", requestID(r.Context()))
		s.renderError(w, r, http.StatusBadRequest, "Invalid redirect",
			"The application asked to send you back to an address it has not registered. Nothing was sent there.")
		return storage.Client{}, "", false
	}
	return client, uri, true
}

// parseAuthorize validates the rest of the request. It always returns the
// response mode and state it read, so errors can be delivered.
func (s *Server) parseAuthorize(r *http.Request, params url.Values, client storage.Client, redirectURI string) (storage.AuthRequest, *oauthError) {
	req := storage.AuthRequest{
		ClientID:    client.ID,
		RedirectURI: redirectURI,
		State:       params.Get("state"),
		MaxAge:      -1,
	}
	switch m := params.Get("response_mode"); m {
	case "", responseModeQuery:
		req.ResponseMode = responseModeQuery
	case responseModeFormPost:
		req.ResponseMode = responseModeFormPost
	default:
		req.ResponseMode = responseModeQuery
		return req, errInvalidRequest("response_mode " + strconv.Quote(m) + " is not supported.")
	}
	// RFC 6749 §3.1: parameters must not be included more than once.
	for k, v := range params {
		if len(v) > 1 {
			return req, errInvalidRequest("Parameter " + k + " was included more than once.")
		}
	}
	if len(req.State) > maxStateLen {
		req.State = ""
		return req, errInvalidRequest("state is too long.")
	}
	// OIDC Core §6: Foyer supports neither request objects nor dynamic
	// registration.
	if params.Has("request") {
		return req, errRequestNotSupported()
	}
	if params.Has("request_uri") {
		return req, errRequestURINotSupported()
	}
	if params.Has("registration") {
		return req, errRegistrationNotSupported()
	}
	switch rt := params.Get("response_type"); rt {
	case responseTypeCode:
		req.ResponseType = rt
	case "":
		return req, errInvalidRequest("response_type is required.")
	default:
		return req, errUnsupportedResponseType("Only response_type=code is supported.")
	}
	if !grantAllowed(client, grantAuthorizationCode) {
		return req, errUnauthorizedClient("This client may not use the authorization code flow.")
	}
	scopes, oerr := parseScopes(params.Get("scope"))
	if oerr != nil {
		return req, oerr
	}
	// OIDC Core §11: offline_access is ignored for clients that may not
	// refresh.
	if !grantAllowed(client, grantRefreshToken) {
		scopes = slices.DeleteFunc(scopes, func(s string) bool { return s == scopeOfflineAccess })
	}
	req.Scopes = scopes

	challenge, method := params.Get("code_challenge"), params.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return req, errInvalidRequest("code_challenge_method without code_challenge.")
	case challenge == "" && pkceRequired(client):
		return req, errInvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256.")
	case challenge != "":
		if method == pkcePlain {
			return req, errInvalidRequest("PKCE method plain is not allowed; use S256.")
		}
		if method != pkceS256 {
			// RFC 7636 §4.3 defaults to plain, which Foyer refuses.
			return req, errInvalidRequest("code_challenge_method must be S256.")
		}
		if !validChallenge(challenge) {
			return req, errInvalidRequest("code_challenge must be a base64url SHA-256 (43 characters).")
		}
		req.CodeChallenge, req.CodeChallengeMethod = challenge, method
	}

	req.Nonce = params.Get("nonce")
	if len(req.Nonce) > maxNonceLen {
		return req, errInvalidRequest("nonce is too long.")
	}
	prompts, oerr := parsePrompt(params.Get("prompt"))
	if oerr != nil {
		return req, oerr
	}
	req.Prompt = prompts
	if v := params.Get("max_age"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			return req, errInvalidRequest("max_age must be a non-negative integer.")
		}
		req.MaxAge = n
	}
	req.LoginHint = params.Get("login_hint")
	if len(req.LoginHint) > maxLoginHintLen {
		return req, errInvalidRequest("login_hint is too long.")
	}
	if hint := params.Get(connectorParam); hint != "" {
		if !s.connectorAllowed(client, hint) {
			return req, errInvalidRequest("connector_id names no connector this client may use.")
		}
		req.ConnectorHint = hint
	}
	if len(s.allowedConnectors(client)) == 0 {
		return req, errAccessDenied("No login method is enabled for this client.")
	}
	return req, nil
}

// parseScopes splits a scope parameter (RFC 6749 §3.3), refusing unknown
// scopes and dropping repeats.
func parseScopes(v string) ([]string, *oauthError) {
	if strings.TrimSpace(v) == "" {
		return nil, errInvalidScope("scope is required (at least openid).")
	}
	var out []string
	for _, sc := range strings.Split(v, " ") {
		if sc == "" || slices.Contains(out, sc) {
			continue
		}
		if !isSupportedScope(sc) {
			return nil, errInvalidScope("Unknown scope " + strconv.Quote(sc) + ".")
		}
		out = append(out, sc)
	}
	return out, nil
}

// parsePrompt reads prompt (OIDC Core §3.1.2.1): unknown values are
// ignored, none may not be combined with others.
func parsePrompt(v string) ([]string, *oauthError) {
	var out []string
	for _, p := range strings.Fields(v) {
		switch p {
		case promptNone, promptLogin, promptConsent, promptSelectAccount:
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	if slices.Contains(out, promptNone) && len(out) > 1 {
		return nil, errInvalidRequest("prompt=none cannot be combined with other values.")
	}
	return out, nil
}

// validChallenge: a S256 challenge is 43 base64url characters (RFC 7636
// §4.2).
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// redirectError sends an error back to the client (RFC 6749 §4.1.2.1) with
// iss (RFC 9207).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, mode, state string, e *oauthError) {
	if e.Code == "server_error" || e.Code == "temporarily_unavailable" {
		e = &oauthError{Code: e.Code, Description: e.Description}
	}
	v := url.Values{"error": {e.Code}, "iss": {s.issuer}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	if state != "" {
		v.Set("state", state)
	}
	s.respondToClient(w, r, redirectURI, mode, v)
}

// respondToClient delivers an authorization response by redirect (query)
// or by an auto-submitting form (form_post).
func (s *Server) respondToClient(w http.ResponseWriter, r *http.Request, redirectURI, mode string, v url.Values) {
	w.Header().Set("Cache-Control", "no-store")
	if mode == responseModeFormPost {
		var fields []postField
		for _, k := range []string{"code", "state", "iss", "error", "error_description"} {
			if v.Has(k) {
				fields = append(fields, postField{k, v.Get(k)})
			}
		}
		s.renderFormPost(w, r, redirectURI, "Continuing", fields)
		return
	}
	target := redirectURI
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	target += sep + v.Encode()
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	withFormAction(w, redirectURI)
	http.Redirect(w, r, target, status)
}

// postField is one hidden field of an auto-submitted form.
type postField struct{ Name, Value string }

// renderFormPost renders a form that posts fields to action: submitted by
// /static/formpost.js, or by a button when scripts are off.
func (s *Server) renderFormPost(w http.ResponseWriter, r *http.Request, action, heading string, fields []postField) {
	w.Header().Set("Cache-Control", "no-store")
	withFormAction(w, action)
	s.render(w, r, http.StatusOK, "formpost", heading, struct {
		Action string
		Fields []postField
	}{action, fields})
}

func sortedFields(m map[string]string) []postField {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]postField, 0, len(keys))
	for _, k := range keys {
		out = append(out, postField{k, m[k]})
	}
	return out
}
