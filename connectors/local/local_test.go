package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/local"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// cheap keeps argon2id fast under the race detector.
var cheap = identity.Params{Memory: 64, Time: 1, Threads: 1}

const password = "correct horse battery staple"

// logBuffer collects JSON log records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the records logged so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(b.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a local connector over a memory store.
type env struct {
	t     *testing.T
	store *memory.Store
	conn  *local.Connector
	logs  *logBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, store: memory.New(), logs: &logBuffer{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := local.Open(local.Config{}, connectors.Env{ID: "local", Users: e.store, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e.conn = c
	return e
}

func argonHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := identity.HashPasswordWith(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// addUser stores u; an empty ID is filled in.
func (e *env) addUser(u storage.User) storage.User {
	e.t.Helper()
	if u.ID == "" {
		u.ID = storage.NewID()
	}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) login(username, pw string) (connectors.Identity, bool, error) {
	return e.conn.Login(context.Background(), connectors.Scopes{}, username, pw)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.addUser(storage.User{
		Username: "alice", Email: "alice@example.org", EmailVerified: true, Name: "Alice",
		Groups: []string{"devs"}, PasswordHash: argonHash(t, password),
	})
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bob := e.addUser(storage.User{Username: "bob", Email: "bob@example.org", PasswordHash: string(bcryptHash)})
	twin1 := e.addUser(storage.User{Username: "twin1", Email: "twins@example.org", PasswordHash: argonHash(t, password)})
	e.addUser(storage.User{Username: "twin2", Email: "twins@example.org", PasswordHash: argonHash(t, password)})
	// A user without a password (federated only) shares an email with one
	// that has one, and has a username of its own.
	e.addUser(storage.User{Username: "fed", Email: "shared@example.org"})
	withPW := e.addUser(storage.User{Username: "local-shared", Email: "shared@example.org", PasswordHash: argonHash(t, password)})

	tests := []struct {
		name     string
		username string
		password string
		want     storage.User // zero: no login
	}{
		{name: "username", username: "alice", password: password, want: alice},
		{name: "username in upper case", username: "ALICE", password: password, want: alice},
		{name: "username with spaces", username: "  alice\t", password: password, want: alice},
		{name: "email", username: "alice@example.org", password: password, want: alice},
		{name: "email in mixed case", username: "Alice@Example.ORG", password: password, want: alice},
		{name: "bcrypt user", username: "bob", password: password, want: bob},
		{name: "wrong password", username: "alice", password: password + "x", want: storage.User{}},
		{name: "password in other case", username: "alice", password: strings.ToUpper(password), want: storage.User{}},
		{name: "unknown user", username: "nobody", password: password, want: storage.User{}},
		{name: "unknown email", username: "nobody@example.org", password: password, want: storage.User{}},
		{name: "empty password", username: "alice", password: "", want: storage.User{}},
		{name: "empty username", username: "", password: password, want: storage.User{}},
		{name: "blank username", username: "   ", password: password, want: storage.User{}},
		{name: "email shared by two users with passwords", username: "twins@example.org", password: password, want: storage.User{}},
		{name: "one of the twins by username", username: "twin1", password: password, want: twin1},
		{name: "email shared with a user without a password", username: "shared@example.org", password: password, want: withPW},
		{name: "user without a password by username", username: "fed", password: password, want: storage.User{}},
		{name: "user without a password, empty password", username: "fed", password: "", want: storage.User{}},
		{name: "password longer than 1024 bytes", username: "alice", password: strings.Repeat("x", 1025), want: storage.User{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok, err := e.login(tt.username, tt.password)
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if tt.want.ID == "" {
				if ok || id.Subject != "" {
					t.Errorf("Login = %+v, %v; want no login", id, ok)
				}
				return
			}
			if !ok {
				t.Fatal("Login refused the right password")
			}
			w := tt.want
			if id.Subject != w.ID || id.LocalUserID != w.ID || id.Email != w.Email || id.EmailVerified != w.EmailVerified ||
				id.Name != w.Name || id.Username != w.Username || !slices.Equal(id.Groups, w.Groups) {
				t.Errorf("Login identity = %+v, want the user %+v", id, w)
			}
		})
	}
	if strings.Contains(e.logs.String(), password) {
		t.Error("a password was logged")
	}
}

// TestLoginDisabled: a disabled user learns it only after the right
// password; a wrong one is just wrong.
func TestLoginDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.addUser(storage.User{Username: "dave", Email: "dave@example.org", PasswordHash: argonHash(t, password), Disabled: true})
	tests := []struct {
		name        string
		username    string
		password    string
		wantRefusal bool
	}{
		{name: "right password", username: "dave", password: password, wantRefusal: true},
		{name: "right password by email", username: "dave@example.org", password: password, wantRefusal: true},
		{name: "wrong password", username: "dave", password: "guess"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok, err := e.login(tt.username, tt.password)
			if ok || id.Subject != "" {
				t.Fatalf("Login = %+v, %v; a disabled user logged in", id, ok)
			}
			var refusal *connectors.Refusal
			if got := errors.As(err, &refusal); got != tt.wantRefusal {
				t.Fatalf("Login error = %v; want a refusal: %v", err, tt.wantRefusal)
			}
			if refusal != nil && (refusal.Reason == "" || strings.Contains(refusal.Reason, u.ID)) {
				t.Errorf("refusal reason %q: want a message for the person, without the user id", refusal.Reason)
			}
		})
	}
}

// TestLoginUnreadableHash: a hash Foyer cannot read is the operator's
// problem: the person sees a wrong password, the log an error.
func TestLoginUnreadableHash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hash string
	}{
		{name: "garbage", hash: "not-a-hash"},
		{name: "argon2id with absurd memory", hash: "$argon2id$v=19$m=4000000,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"},
		{name: "truncated bcrypt", hash: "$2b$10$abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			u := e.addUser(storage.User{Username: "mallory", PasswordHash: tt.hash})
			id, ok, err := e.login("mallory", password)
			if ok || err != nil || id.Subject != "" {
				t.Fatalf("Login = %+v, %v, %v; want (Identity{}, false, nil)", id, ok, err)
			}
			var found bool
			for _, rec := range e.logs.records(t) {
				if rec["level"] == "ERROR" && rec["user_id"] == u.ID {
					found = true
				}
			}
			if !found {
				t.Errorf("no error logged with user_id %s:\n%s", u.ID, e.logs)
			}
			if strings.Contains(e.logs.String(), password) {
				t.Error("the password was logged")
			}
		})
	}
}

// failingFinder is a user directory that does not answer.
type failingFinder struct{ err error }

func (f failingFinder) UserByUsername(context.Context, string) (storage.User, error) {
	return storage.User{}, f.err
}

func (f failingFinder) UsersByEmail(context.Context, string) ([]storage.User, error) {
	return nil, f.err
}

func (f failingFinder) User(context.Context, string) (storage.User, error) {
	return storage.User{}, f.err
}

// TestStoreDown: a broken directory is an error, not a wrong password.
func TestStoreDown(t *testing.T) {
	t.Parallel()
	down := errors.Join(storage.ErrUnavailable, errors.New("connection refused"))
	c, err := local.Open(local.Config{}, connectors.Env{ID: "local", Users: failingFinder{down}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Login(context.Background(), connectors.Scopes{}, "alice", password); ok || !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Login = %v, %v; want an error wrapping storage.ErrUnavailable", ok, err)
	}
	_, err = c.Refresh(context.Background(), connectors.Scopes{}, connectors.Identity{Subject: "u1", LocalUserID: "u1"})
	if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, connectors.ErrIdentityGone) {
		t.Errorf("Refresh error = %v; want storage.ErrUnavailable, not ErrIdentityGone", err)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		change   func(*env, storage.User) // done after the login
		noLocal  bool                     // the identity carries only the subject
		wantErr  error
		wantGrps []string
	}{
		{name: "unchanged", wantGrps: []string{"devs"}},
		{name: "subject only", noLocal: true, wantGrps: []string{"devs"}},
		{
			name: "groups updated",
			change: func(e *env, u storage.User) {
				e.update(u.ID, func(u *storage.User) { u.Groups = []string{"ops", "admins"} })
			},
			wantGrps: []string{"ops", "admins"},
		},
		{
			name: "user gone",
			change: func(e *env, u storage.User) {
				if err := e.store.DeleteUser(context.Background(), u.ID); err != nil {
					e.t.Fatal(err)
				}
			},
			wantErr: connectors.ErrIdentityGone,
		},
		{
			name:    "user disabled",
			change:  func(e *env, u storage.User) { e.update(u.ID, func(u *storage.User) { u.Disabled = true }) },
			wantErr: connectors.ErrIdentityGone,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			u := e.addUser(storage.User{Username: "alice", Email: "alice@example.org", Groups: []string{"devs"}, PasswordHash: argonHash(t, password)})
			id, ok, err := e.login("alice", password)
			if err != nil || !ok {
				t.Fatalf("Login = %v, %v", ok, err)
			}
			if tt.change != nil {
				tt.change(e, u)
			}
			if tt.noLocal {
				id.LocalUserID = ""
			}
			fresh, err := e.conn.Refresh(context.Background(), connectors.Scopes{Groups: true}, id)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Refresh error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fresh.Subject != u.ID || fresh.LocalUserID != u.ID || !slices.Equal(fresh.Groups, tt.wantGrps) {
				t.Errorf("Refresh = %+v, want user %s with groups %v", fresh, u.ID, tt.wantGrps)
			}
		})
	}
}

func (e *env) update(id string, fn func(*storage.User)) {
	e.t.Helper()
	err := e.store.UpdateUser(context.Background(), id, func(u *storage.User) error { fn(u); return nil })
	if err != nil {
		e.t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	if _, err := local.Open(local.Config{}, connectors.Env{ID: "local"}); err == nil {
		t.Error("Open without a user directory succeeded")
	}
	tests := []struct {
		name   string
		cfg    local.Config
		prompt string
	}{
		{name: "default prompt", prompt: "Email or username"},
		{name: "own prompt", cfg: local.Config{UsernamePrompt: "Staff number"}, prompt: "Staff number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := local.Open(tt.cfg, connectors.Env{ID: "local", Users: memory.New()})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.UsernamePrompt(); got != tt.prompt {
				t.Errorf("UsernamePrompt = %q, want %q", got, tt.prompt)
			}
		})
	}
	// Through the registry, as cmd opens it.
	impl, err := local.Type.Open(local.Type.NewConfig(), connectors.Env{ID: "local", Users: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := impl.(connectors.PasswordConnector); !ok {
		t.Errorf("Type.Open returned %T, not a password connector", impl)
	}
	if _, err := local.Type.Open(local.Config{}, connectors.Env{ID: "local", Users: memory.New()}); err == nil {
		t.Error("Type.Open accepted a config that is not a *Config")
	}
}

// TestUnknownUserCost: an unknown user, a blank login and a wrong password
// for a user whose hash has DefaultParams cost about the same, so that
// timing does not tell which users exist. The work is measured in CPU time
// (the machine may be busy with other processes), the runs interleaved and
// the cheapest of three of each compared, within 3×: loose, yet a path
// that skipped the work would fail.
func TestUnknownUserCost(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id with DefaultParams is slow")
	}
	e := newEnv(t)
	h, err := identity.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	e.addUser(storage.User{Username: "alice", Email: "alice@example.org", PasswordHash: h})
	e.addUser(storage.User{Username: "twin1", Email: "twins@example.org", PasswordHash: h})
	e.addUser(storage.User{Username: "twin2", Email: "twins@example.org", PasswordHash: h})
	cases := []struct{ name, username, password string }{
		{name: "wrong password", username: "alice", password: "a guess"}, // the reference
		{name: "unknown user", username: "nobody", password: "a guess"},
		{name: "unknown email", username: "nobody@example.org", password: "a guess"},
		{name: "shared email", username: "twins@example.org", password: "a guess"},
		{name: "empty password", username: "alice", password: ""},
	}
	identity.DummyCheck("warm-up") // the dummy hash is made on first use
	best := make([]time.Duration, len(cases))
	for round := range 3 {
		for i, c := range cases {
			before, ok := cpuTime()
			if !ok {
				t.Skip("no CPU time on this system")
			}
			if _, ok, err := e.login(c.username, c.password); ok || err != nil {
				t.Fatalf("Login(%q) = %v, %v", c.username, ok, err)
			}
			after, _ := cpuTime()
			if d := after - before; round == 0 || d < best[i] {
				best[i] = d
			}
		}
	}
	wrong := best[0]
	for i, c := range cases[1:] {
		got := best[i+1]
		t.Logf("CPU time: %s %v, wrong password %v", c.name, got, wrong)
		if got*3 < wrong || wrong*3 < got {
			t.Errorf("%s costs %v of CPU, a wrong password %v: more than 3× apart", c.name, got, wrong)
		}
	}
}
