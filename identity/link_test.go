package identity_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// linkEnv is a Linker over a fresh memory store with a fixed clock.
type linkEnv struct {
	t      *testing.T
	store  *memory.Store
	linker *identity.Linker
	now    time.Time
}

func newLinkEnv(t *testing.T) *linkEnv {
	t.Helper()
	e := &linkEnv{t: t, store: memory.New(), now: time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)}
	e.linker = identity.NewLinker(e.store, func() time.Time { return e.now }, nil)
	return e
}

// addUser stores u with an ID and a creation time in the past.
func (e *linkEnv) addUser(u storage.User) storage.User {
	e.t.Helper()
	if u.ID == "" {
		u.ID = storage.NewID()
	}
	u.CreatedAt = e.now.Add(-48 * time.Hour)
	u.LastLoginAt = u.CreatedAt
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *linkEnv) link(connectorID, subject, userID string) {
	e.t.Helper()
	err := e.store.LinkIdentity(context.Background(), storage.Identity{
		ConnectorID: connectorID, Subject: subject, UserID: userID,
		Claims:   storage.Claims{Email: "old@example.org", Groups: []string{"old"}},
		LinkedAt: e.now.Add(-time.Hour), LastUsedAt: e.now.Add(-time.Hour),
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *linkEnv) users() []storage.User {
	e.t.Helper()
	us, err := e.store.ListUsers(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return us
}

func (e *linkEnv) identity(connectorID, subject string) storage.Identity {
	e.t.Helper()
	i, err := e.store.Identity(context.Background(), connectorID, subject)
	if err != nil {
		e.t.Fatalf("identity %s/%s: %v", connectorID, subject, err)
	}
	return i
}

func (e *linkEnv) resolve(p identity.Policy, id connectors.Identity) (storage.User, error) {
	return e.linker.Resolve(context.Background(), "up", p, id)
}

var signup = identity.Policy{Signup: true}

func TestResolveExistingLink(t *testing.T) {
	t.Parallel()
	e := newLinkEnv(t)
	u := e.addUser(storage.User{Email: "alice@example.org", Username: "alice", Name: "Alice"})
	e.link("up", "sub-1", u.ID)
	id := connectors.Identity{
		Subject: "sub-1", Email: "alice@new.example", EmailVerified: true, Name: "Alice N.",
		Username: "al", Groups: []string{"devs", "ops"}, Data: []byte("refresh-state"),
	}
	// Signup denied does not matter to an identity that is linked.
	got, err := e.resolve(identity.Policy{}, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID {
		t.Fatalf("Resolve = user %s, want the linked user %s", got.ID, u.ID)
	}
	if !got.LastLoginAt.Equal(e.now) {
		t.Errorf("returned LastLoginAt = %v, want %v", got.LastLoginAt, e.now)
	}
	stored, err := e.store.User(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.LastLoginAt.Equal(e.now) {
		t.Errorf("stored LastLoginAt = %v, want %v", stored.LastLoginAt, e.now)
	}
	if stored.Email != "alice@example.org" || stored.Username != "alice" {
		t.Errorf("the user's own profile changed: email %q, username %q", stored.Email, stored.Username)
	}
	link := e.identity("up", "sub-1")
	if link.UserID != u.ID {
		t.Errorf("link moved to %s", link.UserID)
	}
	if want := id.Claims(); link.Claims.Email != want.Email || !slices.Equal(link.Claims.Groups, want.Groups) || link.Claims.Name != want.Name {
		t.Errorf("link claims = %+v, want %+v", link.Claims, want)
	}
	if string(link.ConnectorData) != "refresh-state" {
		t.Errorf("link connector data = %q", link.ConnectorData)
	}
	if !link.LastUsedAt.Equal(e.now) {
		t.Errorf("link LastUsedAt = %v, want %v", link.LastUsedAt, e.now)
	}
	if n := len(e.users()); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
}

func TestResolveLocalUser(t *testing.T) {
	t.Parallel()
	e := newLinkEnv(t)
	u := e.addUser(storage.User{Email: "bob@example.org", Username: "bob"})
	off := e.addUser(storage.User{Email: "off@example.org", Username: "off", Disabled: true})
	tests := []struct {
		name    string
		userID  string
		wantErr error
	}{
		{name: "enabled", userID: u.ID},
		{name: "disabled", userID: off.ID, wantErr: identity.ErrDisabled},
		{name: "gone", userID: "no-such-user", wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The subject plays no part: the identity is the local user.
			got, err := e.resolve(identity.Policy{}, connectors.Identity{Subject: tt.userID, LocalUserID: tt.userID})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.userID || !got.LastLoginAt.Equal(e.now) {
				t.Errorf("Resolve = %s (last login %v), want %s at %v", got.ID, got.LastLoginAt, tt.userID, e.now)
			}
		})
	}
	// Local users need no link.
	for _, uid := range []string{u.ID, off.ID} {
		ids, err := e.store.IdentitiesByUser(context.Background(), uid)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 0 {
			t.Errorf("user %s has links %+v", uid, ids)
		}
	}
}

func TestResolveSignup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		taken        string // a username another user already has
		id           connectors.Identity
		wantEmail    string
		wantVerified bool
		wantUsername string
	}{
		{
			name:      "verified email and username, normalised",
			id:        connectors.Identity{Subject: "s", Email: " Alice@Example.ORG ", EmailVerified: true, Name: "Alice", Username: " Alice "},
			wantEmail: "alice@example.org", wantVerified: true, wantUsername: "alice",
		},
		{
			name:      "unverified email",
			id:        connectors.Identity{Subject: "s", Email: "alice@example.org", Username: "alice"},
			wantEmail: "alice@example.org", wantUsername: "alice",
		},
		{
			name:         "verified but empty email",
			id:           connectors.Identity{Subject: "s", EmailVerified: true, Username: "alice"},
			wantUsername: "alice",
		},
		{
			name:      "username taken: created without one",
			taken:     "alice",
			id:        connectors.Identity{Subject: "s", Email: "alice@example.org", EmailVerified: true, Username: "Alice"},
			wantEmail: "alice@example.org", wantVerified: true,
		},
		{
			name:      "no username",
			id:        connectors.Identity{Subject: "s", Email: "alice@example.org", EmailVerified: true},
			wantEmail: "alice@example.org", wantVerified: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newLinkEnv(t)
			before := 0
			if tt.taken != "" {
				e.addUser(storage.User{Username: tt.taken})
				before = 1
			}
			tt.id.Groups = []string{"upstream-group"}
			u, err := e.resolve(signup, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if u.Email != tt.wantEmail || u.EmailVerified != tt.wantVerified || u.Username != tt.wantUsername {
				t.Errorf("new user email %q verified %v username %q; want %q %v %q",
					u.Email, u.EmailVerified, u.Username, tt.wantEmail, tt.wantVerified, tt.wantUsername)
			}
			if u.Name != tt.id.Name {
				t.Errorf("new user name %q, want %q", u.Name, tt.id.Name)
			}
			if len(u.Groups) != 0 {
				t.Errorf("new user has groups %v: upstream groups belong to the identity", u.Groups)
			}
			if !u.CreatedAt.Equal(e.now) || !u.LastLoginAt.Equal(e.now) {
				t.Errorf("created %v, last login %v; want %v", u.CreatedAt, u.LastLoginAt, e.now)
			}
			stored, err := e.store.User(context.Background(), u.ID)
			if err != nil {
				t.Fatalf("new user not stored: %v", err)
			}
			if stored.Username != u.Username || stored.Email != u.Email {
				t.Errorf("stored user %+v differs from the returned one %+v", stored, u)
			}
			if link := e.identity("up", "s"); link.UserID != u.ID || !slices.Equal(link.Claims.Groups, []string{"upstream-group"}) {
				t.Errorf("link = %+v, want to user %s with the upstream groups", link, u.ID)
			}
			if n := len(e.users()); n != before+1 {
				t.Errorf("%d users, want %d", n, before+1)
			}
		})
	}
}

func TestResolveSignupDenied(t *testing.T) {
	t.Parallel()
	e := newLinkEnv(t)
	_, err := e.resolve(identity.Policy{LinkByVerifiedEmail: true}, connectors.Identity{Subject: "s", Email: "x@example.org", EmailVerified: true})
	if !errors.Is(err, identity.ErrSignupDenied) {
		t.Fatalf("Resolve error = %v, want ErrSignupDenied", err)
	}
	if n := len(e.users()); n != 0 {
		t.Errorf("%d users created", n)
	}
	if _, err := e.store.Identity(context.Background(), "up", "s"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a link was stored: %v", err)
	}
}

func TestResolveNoSubject(t *testing.T) {
	t.Parallel()
	e := newLinkEnv(t)
	if _, err := e.resolve(signup, connectors.Identity{Email: "x@example.org"}); err == nil {
		t.Fatal("Resolve accepted an identity without a subject")
	}
	if n := len(e.users()); n != 0 {
		t.Errorf("%d users created", n)
	}
}

// TestResolveLinkByVerifiedEmail: a new identity joins an existing user
// only when the policy allows it, the upstream says the email is verified,
// and exactly one user has that email verified.
func TestResolveLinkByVerifiedEmail(t *testing.T) {
	t.Parallel()
	const email = "carol@example.org"
	both := identity.Policy{Signup: true, LinkByVerifiedEmail: true}
	tests := []struct {
		name     string
		policy   identity.Policy
		existing []storage.User
		id       connectors.Identity
		wantLink int   // index into existing of the user linked; -1: a new user
		wantErr  error // instead of a user
	}{
		{
			name:     "one verified user",
			policy:   both,
			existing: []storage.User{{Email: email, EmailVerified: true}},
			id:       connectors.Identity{Subject: "s", Email: email, EmailVerified: true},
			wantLink: 0,
		},
		{
			name:     "upstream email in other case",
			policy:   identity.Policy{LinkByVerifiedEmail: true},
			existing: []storage.User{{Email: email, EmailVerified: true}},
			id:       connectors.Identity{Subject: "s", Email: " Carol@EXAMPLE.org", EmailVerified: true},
			wantLink: 0,
		},
		{
			name:     "one verified and one unverified user",
			policy:   both,
			existing: []storage.User{{Email: email}, {Email: email, EmailVerified: true}},
			id:       connectors.Identity{Subject: "s", Email: email, EmailVerified: true},
			wantLink: 1,
		},
		{
			name:     "unverified upstream email",
			policy:   both,
			existing: []storage.User{{Email: email, EmailVerified: true}},
			id:       connectors.Identity{Subject: "s", Email: email},
			wantLink: -1,
		},
		{
			name:     "unverified upstream email, signup denied",
			policy:   identity.Policy{LinkByVerifiedEmail: true},
			existing: []storage.User{{Email: email, EmailVerified: true}},
			id:       connectors.Identity{Subject: "s", Email: email},
			wantErr:  identity.ErrSignupDenied,
		},
		{
			name:     "two verified users with the email",
			policy:   both,
			existing: []storage.User{{Email: email, EmailVerified: true}, {Email: email, EmailVerified: true}},
			id:       connectors.Identity{Subject: "s", Email: email, EmailVerified: true},
			wantLink: -1,
		},
		{
			name:     "two verified users, signup denied",
			policy:   identity.Policy{LinkByVerifiedEmail: true},
			existing: []storage.User{{Email: email, EmailVerified: true}, {Email: email, EmailVerified: true}},
			id:       connectors.Identity{Subject: "s", Email: email, EmailVerified: true},
			wantErr:  identity.ErrSignupDenied,
		},
		{
			name:     "the user's own email unverified",
			policy:   both,
			existing: []storage.User{{Email: email}},
			id:       connectors.Identity{Subject: "s", Email: email, EmailVerified: true},
			wantLink: -1,
		},
		{
			name:     "policy does not link by email",
			policy:   signup,
			existing: []storage.User{{Email: email, EmailVerified: true}},
			id:       connectors.Identity{Subject: "s", Email: email, EmailVerified: true},
			wantLink: -1,
		},
		{
			name:     "the user with the email is disabled",
			policy:   both,
			existing: []storage.User{{Email: email, EmailVerified: true, Disabled: true}},
			id:       connectors.Identity{Subject: "s", Email: email, EmailVerified: true},
			wantErr:  identity.ErrDisabled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newLinkEnv(t)
			var existing []storage.User
			for _, u := range tt.existing {
				existing = append(existing, e.addUser(u))
			}
			got, err := e.resolve(tt.policy, tt.id)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve error = %v, want %v", err, tt.wantErr)
				}
				if n := len(e.users()); n != len(existing) {
					t.Errorf("%d users, want %d: a user was created", n, len(existing))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			link := e.identity("up", "s")
			if link.UserID != got.ID {
				t.Errorf("link to %s, Resolve returned %s", link.UserID, got.ID)
			}
			if tt.wantLink >= 0 {
				if want := existing[tt.wantLink].ID; got.ID != want {
					t.Errorf("Resolve = %s, want the existing user %s", got.ID, want)
				}
				if n := len(e.users()); n != len(existing) {
					t.Errorf("%d users, want %d: a user was created", n, len(existing))
				}
				return
			}
			for _, u := range existing {
				if got.ID == u.ID {
					t.Fatalf("linked to the existing user %s, want a new user", u.ID)
				}
			}
			if n := len(e.users()); n != len(existing)+1 {
				t.Errorf("%d users, want %d", n, len(existing)+1)
			}
		})
	}
}

func TestResolveDisabled(t *testing.T) {
	t.Parallel()
	e := newLinkEnv(t)
	u := e.addUser(storage.User{Email: "dan@example.org", Disabled: true})
	e.link("up", "sub-d", u.ID)
	_, err := e.resolve(signup, connectors.Identity{Subject: "sub-d", Email: "dan@example.org"})
	if !errors.Is(err, identity.ErrDisabled) {
		t.Fatalf("Resolve error = %v, want ErrDisabled", err)
	}
	stored, err := e.store.User(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.LastLoginAt.Equal(e.now) {
		t.Error("a refused login was recorded as the last login")
	}
	if n := len(e.users()); n != 1 {
		t.Errorf("%d users: a disabled user's identity must not sign up anew", n)
	}
}

// TestResolveConcurrentFirstLogin: twenty first logins of one identity at
// once end with one user and one link, and every call returns that user.
func TestResolveConcurrentFirstLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		policy   identity.Policy
		existing bool // a user with the verified email exists
	}{
		{name: "signup", policy: signup},
		{name: "link by verified email", policy: identity.Policy{LinkByVerifiedEmail: true}, existing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newLinkEnv(t)
			if tt.existing {
				e.addUser(storage.User{Email: "eve@example.org", EmailVerified: true})
			}
			id := connectors.Identity{Subject: "sub-e", Email: "eve@example.org", EmailVerified: true, Username: "eve"}
			const n = 20
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				ids   = make([]string, n)
				errs  = make([]error, n)
			)
			for i := range n {
				wg.Go(func() {
					<-start
					u, err := e.resolve(tt.policy, id)
					ids[i], errs[i] = u.ID, err
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("Resolve %d: %v", i, err)
				}
			}
			users := e.users()
			if len(users) != 1 {
				t.Fatalf("%d users, want 1: %+v", len(users), users)
			}
			for i, got := range ids {
				if got != users[0].ID {
					t.Errorf("Resolve %d returned user %s, want %s", i, got, users[0].ID)
				}
			}
			links, err := e.store.IdentitiesByUser(context.Background(), users[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(links) != 1 || links[0].Subject != "sub-e" {
				t.Errorf("links %+v, want the one identity", links)
			}
		})
	}
}
