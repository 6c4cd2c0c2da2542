package gateway

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/foyerid/foyer/storage"
)

// oauthError is an OAuth 2.0 error (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1;
// OIDC Core §3.1.2.6). Handlers return one; a writer renders it as JSON, a
// redirect or a page. cause is for the log only.
type oauthError struct {
	Code        string
	Description string
	Status      int
	cause       error
}

func (e *oauthError) Error() string {
	if e.cause != nil {
		return e.Code + ": " + e.Description + ": " + e.cause.Error()
	}
	return e.Code + ": " + e.Description
}

func (e *oauthError) Unwrap() error { return e.cause }

func newOAuthError(code string, status int, desc string) *oauthError {
	return &oauthError{Code: code, Description: desc, Status: status}
}

// Constructors, one per code; each call builds a fresh value.
func errInvalidRequest(desc string) *oauthError {
	return newOAuthError("invalid_request", http.StatusBadRequest, desc)
}
func errInvalidClient(desc string) *oauthError {
	return newOAuthError("invalid_client", http.StatusUnauthorized, desc)
}
func errInvalidGrant(desc string) *oauthError {
	return newOAuthError("invalid_grant", http.StatusBadRequest, desc)
}
func errUnauthorizedClient(desc string) *oauthError {
	return newOAuthError("unauthorized_client", http.StatusBadRequest, desc)
}
func errUnsupportedGrantType(desc string) *oauthError {
	return newOAuthError("unsupported_grant_type", http.StatusBadRequest, desc)
}
func errUnsupportedResponseType(desc string) *oauthError {
	return newOAuthError("unsupported_response_type", http.StatusBadRequest, desc)
}
func errInvalidScope(desc string) *oauthError {
	return newOAuthError("invalid_scope", http.StatusBadRequest, desc)
}
func errAccessDenied(desc string) *oauthError {
	return newOAuthError("access_denied", http.StatusForbidden, desc)
}
func errServer(cause error) *oauthError {
	e := newOAuthError("server_error", http.StatusInternalServerError, "The server met an unexpected condition.")
	e.cause = cause
	return e
}
func errTemporarilyUnavailable(cause error) *oauthError {
	e := newOAuthError("temporarily_unavailable", http.StatusServiceUnavailable, "The service is temporarily unavailable; try again shortly.")
	e.cause = cause
	return e
}
func errLoginRequired(desc string) *oauthError {
	return newOAuthError("login_required", http.StatusBadRequest, desc)
}
func errConsentRequired(desc string) *oauthError {
	return newOAuthError("consent_required", http.StatusBadRequest, desc)
}
func errRequestNotSupported() *oauthError {
	return newOAuthError("request_not_supported", http.StatusBadRequest, "Request objects are not supported.")
}
func errRequestURINotSupported() *oauthError {
	return newOAuthError("request_uri_not_supported", http.StatusBadRequest, "request_uri is not supported.")
}
func errRegistrationNotSupported() *oauthError {
	return newOAuthError("registration_not_supported", http.StatusBadRequest, "Dynamic registration is not supported.")
}
func errInvalidToken(desc string) *oauthError {
	return newOAuthError("invalid_token", http.StatusUnauthorized, desc)
}

// asOAuthError turns any error into an oauthError: a store that cannot be
// reached is temporarily_unavailable, anything unexpected server_error.
func asOAuthError(err error) *oauthError {
	var oe *oauthError
	if errors.As(err, &oe) {
		return oe
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return errTemporarilyUnavailable(err)
	}
	return errServer(err)
}

// logOAuthError logs at Error for server faults, Info for client mistakes.
func (s *Server) logOAuthError(r *http.Request, e *oauthError, msg string) {
	attrs := []any{"error", e.Code, "request_id", requestID(r.Context())}
	if e.cause != nil {
		attrs = append(attrs, "err", e.cause)
	}
	if e.Status >= 500 {
		s.logger.ErrorContext(r.Context(), msg, attrs...)
	} else {
		s.logger.InfoContext(r.Context(), msg, append(attrs, "error_description", e.Description)...)
	}
}

// writeJSONError renders err as the token endpoint does (RFC 6749 §5.2).
func (s *Server) writeJSONError(w http.ResponseWriter, r *http.Request, err error) {
	e := asOAuthError(err)
	s.logOAuthError(r, e, "oauth error")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.Code == "invalid_client" {
		// RFC 6749 §5.2: 401 with the scheme the client may use.
		h.Set("WWW-Authenticate", `Basic realm="foyer", charset="UTF-8"`)
	}
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description})
}
