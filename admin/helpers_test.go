package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

const testToken = "test-admin-token-0123456789abcdefghij"

// fastParams keep argon2id cheap in tests; the hashes still verify.
var fastParams = identity.Params{Memory: 64, Time: 1, Threads: 1}

// testClock is the admin API's clock: fixed, so audit times are known.
var testClock = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// lockedBuffer collects the server's log lines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is an admin API on a memory store behind an httptest server.
type harness struct {
	t     *testing.T
	store *memory.Store
	srv   *httptest.Server
	logs  *lockedBuffer
	mu    sync.Mutex
	ended []storage.Session // what EndSession was called with
	// bodies holds every response body, for the secret scan.
	bodies []string
}

func newHarness(t *testing.T, edit ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, store: memory.New(), logs: &lockedBuffer{}}
	o := Options{
		Token: testToken, Directory: h.store, State: h.store,
		EndSession:       h.endSession,
		HashClientSecret: func(s string) string { return "sha256:" + storage.HashSecret(s) },
		HashPassword:     func(p string) (string, error) { return identity.HashPasswordWith(p, fastParams) },
		LocalPasswords:   true,
		Connectors:       []string{"local", "corp"},
		Algorithms:       []string{"RS256"},
		Logger:           slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:            func() time.Time { return testClock },
	}
	for _, e := range edit {
		e(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(s.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// endSession does what the gateway's EndSession does to the store, and
// records the call.
func (h *harness) endSession(ctx context.Context, s storage.Session) {
	h.mu.Lock()
	h.ended = append(h.ended, s)
	h.mu.Unlock()
	_, _ = h.store.DeleteSession(ctx, s.ID)
	_, _ = h.store.RevokeSessionGrants(ctx, s.ID)
}

func (h *harness) endedIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for _, s := range h.ended {
		ids = append(ids, s.ID)
	}
	return ids
}

// response is one answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorCode() Error {
	var e Error
	_ = json.Unmarshal(r.body, &e)
	return e
}

// call sends a request with the test token; body is JSON-encoded unless it
// is a string (sent as is).
func (h *harness) call(method, path string, body any) response {
	h.t.Helper()
	return h.callAuth(method, path, body, "Bearer "+testToken)
}

func (h *harness) callAuth(method, path string, body any, auth string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, string(raw))
	h.mu.Unlock()
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// want fails unless the answer has the status, and decodes it into out.
func (h *harness) want(r response, status int, out any) {
	h.t.Helper()
	if r.status != status {
		h.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			h.t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// createUser makes a user through the API.
func (h *harness) createUser(in NewUser) User {
	h.t.Helper()
	var u User
	h.want(h.call(http.MethodPost, "/api/v1/users", in), http.StatusCreated, &u)
	return u
}

// addSession stores a live session with one session-bound grant and one
// offline grant for the user.
func (h *harness) addSession(userID string) (storage.Session, []storage.Grant) {
	h.t.Helper()
	ctx := context.Background()
	now := time.Now()
	sess := storage.Session{
		ID: storage.HashSecret(storage.NewSecret()), UserID: userID,
		Login:     storage.Login{UserID: userID, ConnectorID: "local", AMR: []string{"pwd"}, AuthTime: now, ConnectorData: []byte("upstream-refresh-token")},
		Clients:   []string{"app"},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(12 * time.Hour),
	}
	sess.Login.SessionID = sess.ID
	if err := h.store.CreateSession(ctx, sess); err != nil {
		h.t.Fatal(err)
	}
	var grants []storage.Grant
	for _, offline := range []bool{false, true} {
		g := storage.Grant{
			ID: storage.NewID(), ClientID: "app", Scopes: []string{"openid"}, Login: sess.Login, Offline: offline,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour),
			TokenHash: storage.HashSecret(storage.NewSecret()), SuccessorSealed: []byte("sealed-successor"),
		}
		if err := h.store.CreateGrant(ctx, g); err != nil {
			h.t.Fatal(err)
		}
		grants = append(grants, g)
	}
	return sess, grants
}

// auditActions lists the audit log's actions, checking every event's actor.
func (h *harness) auditActions() []string {
	h.t.Helper()
	events, err := h.store.ListAudit(context.Background(), time.Time{}, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Actor != "admin" {
			h.t.Errorf("audit event %s has actor %q, want admin", e.Action, e.Actor)
		}
		out = append(out, e.Action)
	}
	return out
}

func decodeBody(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
