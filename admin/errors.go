package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/foyerid/foyer/storage"
)

// Error codes, the "error" member of every error answer.
const (
	CodeInvalidRequest   = "invalid_request"    // 400: the field is named
	CodeUnauthorized     = "unauthorized"       // 401
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeConflict         = "conflict"           // 409
	CodeTooLarge         = "too_large"          // 413
	CodeUnsupportedType  = "unsupported_media_type"
	CodeUnavailable      = "unavailable" // 503: the store does not answer
	CodeInternal         = "internal_error"
)

// Error is every error answer of the API:
// {"error": code, "message": text, "field": name}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Message string `json:"message"`
	// Field names the offending input, the way the request spelt it
	// ("redirectURIs[1]", "since"), for invalid_request.
	Field string `json:"field,omitempty"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

func notFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such " + what}
}

func conflict(format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// lookup turns a store's ErrNotFound into a 404 naming what was looked
// for; other errors pass through.
func lookup(err error, what string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return notFound(what)
	}
	return err
}

// writeError renders err. Store errors become 404, 409 or 503; anything
// else a 500 whose detail goes to the log only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, storage.ErrNotFound):
		e = &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "not found"}
	case errors.Is(err, storage.ErrConflict):
		e = conflict("the record changed or a unique value is taken; try again")
	case errors.Is(err, storage.ErrUnavailable):
		s.logger.WarnContext(r.Context(), "admin: store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the store is unavailable; try again later"}
	default:
		s.logger.ErrorContext(r.Context(), "admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; see the server log"}
	}
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own wire types get here; they always marshal.
		http.Error(w, `{"error":"internal_error","message":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// maxBody bounds a request body.
const maxBody = 64 << 10

// decode reads one JSON object into v, strictly: a member v does not have
// (names are compared exactly: encoding/json alone would take "userName"
// for "username"), a member given twice, trailing data and a body over
// maxBody are refused.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedType, Message: "send application/json"}
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return decodeError(err)
	}
	if err := checkMembers(raw, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "the body must be exactly one JSON object"}
	}
	return nil
}

// checkMembers walks the top level of a JSON object and refuses a member
// whose name is not exactly one of v's (a struct pointer) JSON names, or
// that is given twice. Anything that is not an object is left to the
// decoder to refuse.
func checkMembers(raw []byte, v any) error {
	known := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		name, _ := tok.(string)
		switch {
		case !known[name]:
			return invalid(name, "unknown field")
		case seen[name]:
			return invalid(name, "given twice")
		}
		seen[name] = true
		if err := dec.Decode(&json.RawMessage{}); err != nil {
			return nil
		}
	}
	return nil
}

func decodeError(err error) error {
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", maxBody)}
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "the body must be a JSON object"}
		}
		return invalid(typeErr.Field, "expected %s", typeErr.Type.String())
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "the body is not valid JSON"}
	case errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "a JSON body is required"}
	}
	// encoding/json reports an unknown field only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		return invalid(field, "unknown field")
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "the body could not be read as the expected JSON object"}
}

// pathValue returns a path wildcard. A value that is not clean text names
// no record: it is a 404 before any store sees it (PostgreSQL refuses NUL
// and invalid UTF-8).
func pathValue(r *http.Request, name, what string) (string, error) {
	v := r.PathValue(name)
	if v == "" || len(v) > 1024 || !cleanText(v) {
		return "", notFound(what)
	}
	return v, nil
}

// cleanText reports whether s is valid UTF-8 without control characters.
func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// query returns the request's query parameters, refusing any not in
// allowed and any given twice.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "the query string is malformed"}
	}
	for k, v := range q {
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		switch {
		case !known:
			return nil, invalid(k, "unknown query parameter")
		case len(v) > 1:
			return nil, invalid(k, "given more than once")
		}
	}
	return q, nil
}

// Interface guards.
var _ error = (*Error)(nil)
