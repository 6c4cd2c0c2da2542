package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
)

// Directory is what the admin API needs of the directory.
type Directory interface {
	storage.Users
	storage.Identities
	storage.Clients
	storage.Audit
}

// State is what the admin API needs of the sessions-and-keys store.
type State interface {
	Session(ctx context.Context, id string) (storage.Session, error)
	SessionsByUser(ctx context.Context, userID string) ([]storage.Session, error)
	Grant(ctx context.Context, id string) (storage.Grant, error)
	GrantsByUser(ctx context.Context, userID string) ([]storage.Grant, error)
	RevokeGrant(ctx context.Context, id string) error
}

// MinTokenLength is the shortest bearer token the admin API accepts.
const MinTokenLength = 32

// maxTokenFile bounds what ReadTokenFile reads.
const maxTokenFile = 4096

// Options configure a Server.
type Options struct {
	// Token is the bearer token every request must present: at least
	// MinTokenLength characters of printable ASCII without spaces.
	Token     string
	Directory Directory
	State     State
	// EndSession ends an SSO session the way the gateway does: it deletes
	// the session, revokes its session-bound grants and tells the clients
	// over the back channel. Required.
	EndSession func(ctx context.Context, s storage.Session)
	// HashClientSecret returns the stored form of a client secret.
	// Required.
	HashClientSecret func(secret string) string
	// HashPassword hashes a user's password; default identity.HashPassword.
	HashPassword func(password string) (string, error)
	// LocalPasswords reports whether a local password is a way in (a
	// connector of type local is configured): it decides whether the last
	// linked identity of a user with a password may be unlinked.
	LocalPasswords bool
	// Connectors are the configured connector ids a client's
	// allowedConnectors may name; nil skips the check.
	Connectors []string
	// Algorithms are the signing algorithms a client's signingAlgorithm
	// may name; nil skips the check.
	Algorithms []string
	Logger     *slog.Logger
	Clock      func() time.Time
}

// Server serves the admin API.
type Server struct {
	tokenHash      [sha256.Size]byte
	dir            Directory
	state          State
	endSession     func(context.Context, storage.Session)
	hashSecret     func(string) string
	hashPassword   func(string) (string, error)
	localPasswords bool
	connectors     []string
	algorithms     []string
	logger         *slog.Logger
	now            func() time.Time
	mux            *http.ServeMux
}

// New builds a Server.
func New(o Options) (*Server, error) {
	if err := checkToken(o.Token); err != nil {
		return nil, err
	}
	if o.Directory == nil || o.State == nil || o.EndSession == nil || o.HashClientSecret == nil {
		return nil, errors.New("admin: directory, state, EndSession and HashClientSecret are required")
	}
	s := &Server{
		tokenHash:      sha256.Sum256([]byte(o.Token)),
		dir:            o.Directory,
		state:          o.State,
		endSession:     o.EndSession,
		hashSecret:     o.HashClientSecret,
		hashPassword:   o.HashPassword,
		localPasswords: o.LocalPasswords,
		connectors:     o.Connectors,
		algorithms:     o.Algorithms,
		logger:         o.Logger,
		now:            o.Clock,
		mux:            http.NewServeMux(),
	}
	if s.hashPassword == nil {
		s.hashPassword = identity.HashPassword
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.routes()
	return s, nil
}

// ReadTokenFile reads the admin token from a file (admin.tokenFile):
// surrounding white space is dropped, and the token must be at least
// MinTokenLength characters of printable ASCII without spaces. Errors never
// quote the file's content.
func ReadTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("admin: token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("admin: token file %s: %w", path, err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("admin: token file %s: longer than %d bytes", path, maxTokenFile)
	}
	token := strings.TrimSpace(string(b))
	if err := checkToken(token); err != nil {
		return "", fmt.Errorf("%w (in %s)", err, path)
	}
	return token, nil
}

func checkToken(token string) error {
	if len(token) < MinTokenLength {
		return fmt.Errorf("admin: the token is %d characters long; at least %d are required (try `head -c 32 /dev/urandom | base64`)", len(token), MinTokenLength)
	}
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] > '~' {
			return errors.New("admin: the token must be printable ASCII without spaces")
		}
	}
	return nil
}

// Handler returns the API's handler. It serves paths under /api/v1/ and
// answers 404 to anything else.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if !s.authorized(r) {
		challenge := `Bearer realm="foyer-admin"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
			s.logger.WarnContext(r.Context(), "admin: bearer token refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		}
		h.Set("WWW-Authenticate", challenge)
		s.writeError(w, r, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "a valid bearer token is required"})
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// unmatched answers a request no route takes, in JSON: 405 when the path
// exists with other methods, 404 otherwise.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	rec := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		s.writeError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: r.Method + " is not allowed here"})
		return
	}
	s.writeError(w, r, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such endpoint"})
}

// statusRecorder keeps only the status and headers the mux's own 404/405
// handler writes.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.status = code }

// authorized compares the presented bearer token with the configured one
// in constant time (both hashed first, so neither length shows).
func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

// handlerFunc is an endpoint: it writes its answer, or returns an error for
// writeError to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) routes() {
	const v1 = "/api/v1"
	s.handle("GET "+v1+"/users", s.listUsers)
	s.handle("POST "+v1+"/users", s.createUser)
	s.handle("GET "+v1+"/users/{id}", s.getUser)
	s.handle("PATCH "+v1+"/users/{id}", s.patchUser)
	s.handle("DELETE "+v1+"/users/{id}", s.deleteUser)
	s.handle("GET "+v1+"/users/{id}/identities", s.listIdentities)
	s.handle("DELETE "+v1+"/users/{id}/identities/{connector}/{subject...}", s.unlinkIdentity)
	s.handle("GET "+v1+"/users/{id}/sessions", s.listSessions)
	s.handle("DELETE "+v1+"/sessions/{sid}", s.revokeSession)
	s.handle("GET "+v1+"/users/{id}/grants", s.listGrants)
	s.handle("DELETE "+v1+"/grants/{id}", s.revokeGrant)
	s.handle("GET "+v1+"/clients", s.listClients)
	s.handle("POST "+v1+"/clients", s.createClient)
	s.handle("GET "+v1+"/clients/{id}", s.getClient)
	s.handle("PATCH "+v1+"/clients/{id}", s.patchClient)
	s.handle("DELETE "+v1+"/clients/{id}", s.deleteClient)
	s.handle("GET "+v1+"/audit", s.listAudit)
}

// audit appends one change to the audit log. The change has happened: a
// failure to record it is logged at Error (with what was done), not
// returned.
func (s *Server) audit(ctx context.Context, action, target, detail string) {
	err := s.dir.AppendAudit(ctx, storage.AuditEvent{
		Time: s.now().UTC(), Actor: "admin", Action: action, Target: target, Detail: detail,
	})
	if err != nil {
		s.logger.ErrorContext(ctx, "admin: audit log append", "action", action, "target", target, "err", err)
	}
	s.logger.InfoContext(ctx, "admin: "+action, "target", target)
}
