package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
)

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	bob := h.createUser(NewUser{Username: "Bob", Email: "Bob@Example.com", EmailVerified: true, Name: "Bob B", Groups: []string{"ops", "ops", "dev"}, Password: "correct horse battery"})
	if bob.Username != "bob" || bob.Email != "bob@example.com" || !bob.EmailVerified || !bob.HasPassword || bob.Static {
		t.Fatalf("created %+v", bob)
	}
	if !slices.Equal(bob.Groups, []string{"ops", "dev"}) {
		t.Errorf("groups %v", bob.Groups)
	}
	stored, err := h.store.User(ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := identity.CheckPassword(stored.PasswordHash, "correct horse battery"); !ok || err != nil {
		t.Fatalf("the stored hash does not check: %v", err)
	}

	var list UserList
	h.want(h.call("GET", "/api/v1/users", nil), 200, &list)
	if len(list.Users) != 1 || list.Users[0].ID != bob.ID {
		t.Fatalf("list %+v", list)
	}
	h.want(h.call("GET", "/api/v1/users?email=BOB@example.com", nil), 200, &list)
	if len(list.Users) != 1 {
		t.Errorf("email filter: %+v", list)
	}
	h.want(h.call("GET", "/api/v1/users?email=nobody@example.com", nil), 200, &list)
	if len(list.Users) != 0 {
		t.Errorf("email filter for nobody: %+v", list)
	}
	h.want(h.call("GET", "/api/v1/users?username=BOB", nil), 200, &list)
	if len(list.Users) != 1 {
		t.Errorf("username filter: %+v", list)
	}
	if r := h.call("GET", "/api/v1/users?mail=x", nil); r.status != 400 || r.errorCode().Field != "mail" {
		t.Errorf("unknown filter: %d %s", r.status, r.body)
	}

	var got User
	h.want(h.call("GET", "/api/v1/users/"+bob.ID, nil), 200, &got)
	if got.ID != bob.ID || got.Name != "Bob B" {
		t.Errorf("get %+v", got)
	}

	// A new email is unverified unless the patch says otherwise.
	h.want(h.call("PATCH", "/api/v1/users/"+bob.ID, map[string]any{"email": "bob@new.example.com", "name": "Robert"}), 200, &got)
	if got.Email != "bob@new.example.com" || got.EmailVerified || got.Name != "Robert" {
		t.Errorf("patched %+v", got)
	}
	h.want(h.call("PATCH", "/api/v1/users/"+bob.ID, map[string]any{"password": "a new long password"}), 200, &got)
	stored, _ = h.store.User(ctx, bob.ID)
	if ok, _ := identity.CheckPassword(stored.PasswordHash, "a new long password"); !ok {
		t.Error("the new password does not check")
	}

	// Disabling ends every session and revokes every grant, offline too.
	sess, grants := h.addSession(bob.ID)
	h.want(h.call("PATCH", "/api/v1/users/"+bob.ID, map[string]any{"disabled": true}), 200, &got)
	if !got.Disabled {
		t.Error("not disabled")
	}
	if !slices.Equal(h.endedIDs(), []string{sess.ID}) {
		t.Errorf("EndSession called for %v, want the session", h.endedIDs())
	}
	for _, g := range grants {
		if g, _ := h.store.Grant(ctx, g.ID); !g.Revoked {
			t.Errorf("grant (offline %v) not revoked after disable", g.Offline)
		}
	}
	h.want(h.call("PATCH", "/api/v1/users/"+bob.ID, map[string]any{"disabled": false}), 200, &got)
	if got.Disabled {
		t.Error("not enabled again")
	}
	if r := h.call("PATCH", "/api/v1/users/"+bob.ID, map[string]any{}); r.status != 400 {
		t.Errorf("empty patch: %d", r.status)
	}

	sess2, grants2 := h.addSession(bob.ID)
	h.want(h.call("DELETE", "/api/v1/users/"+bob.ID, nil), 204, nil)
	if _, err := h.store.User(ctx, bob.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("user still there: %v", err)
	}
	if !slices.Contains(h.endedIDs(), sess2.ID) {
		t.Error("deleting the user did not end its session")
	}
	for _, g := range grants2 {
		if g, _ := h.store.Grant(ctx, g.ID); !g.Revoked {
			t.Errorf("grant (offline %v) not revoked after delete", g.Offline)
		}
	}
	if r := h.call("DELETE", "/api/v1/users/"+bob.ID, nil); r.status != 404 {
		t.Errorf("second delete: %d", r.status)
	}
	want := []string{"user.create", "user.update", "user.update", "user.update", "user.update", "user.delete"}
	if got := h.auditActions(); !slices.Equal(got, want) {
		t.Errorf("audit %v, want %v", got, want)
	}
	events, _ := h.store.ListAudit(ctx, time.Time{}, 0)
	if d := events[1].Detail; d != "set: email,name" {
		t.Errorf("update detail %q", d)
	}
	// The session's own grant ends with the session; the offline one is
	// revoked by itself.
	if d := events[3].Detail; !strings.Contains(d, "ended 1 sessions, revoked 1 grants") {
		t.Errorf("disable detail %q", d)
	}
}

func TestCreateUserRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createUser(NewUser{Username: "taken"})
	tests := []struct {
		name   string
		in     NewUser
		status int
		field  string
	}{
		{name: "no username or email", in: NewUser{Name: "Nobody"}, status: 400, field: "username"},
		{name: "display-name email", in: NewUser{Email: "Bob <bob@example.com>"}, status: 400, field: "email"},
		{name: "not an email", in: NewUser{Email: "bob"}, status: 400, field: "email"},
		{name: "short password", in: NewUser{Username: "eve", Password: "short"}, status: 400, field: "password"},
		{name: "long password", in: NewUser{Username: "eve", Password: strings.Repeat("p", 1025)}, status: 400, field: "password"},
		{name: "control in name", in: NewUser{Username: "eve", Name: "Eve\x00"}, status: 400, field: "name"},
		{name: "space around username", in: NewUser{Username: " eve"}, status: 400, field: "username"},
		{name: "empty group", in: NewUser{Username: "eve", Groups: []string{"ok", " "}}, status: 400, field: "groups[1]"},
		{name: "username taken, any case", in: NewUser{Username: "TAKEN"}, status: 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call("POST", "/api/v1/users", tt.in)
			e := r.errorCode()
			if r.status != tt.status || e.Field != tt.field || e.Message == "" {
				t.Fatalf("%d %s, want %d field %q", r.status, r.body, tt.status, tt.field)
			}
		})
	}
	if users, _ := h.store.ListUsers(context.Background()); len(users) != 1 {
		t.Errorf("%d users stored", len(users))
	}
}

func TestStaticUserReadOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	u := storage.User{ID: "static-1", Username: "alice", PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", Static: true, CreatedAt: time.Now()}
	if err := h.store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var got User
	h.want(h.call("GET", "/api/v1/users/static-1", nil), 200, &got)
	if !got.Static {
		t.Error("static flag not shown")
	}
	for _, tt := range []struct {
		name, method string
		body         any
	}{
		{name: "patch", method: "PATCH", body: map[string]any{"name": "Mallory"}},
		{name: "patch password", method: "PATCH", body: map[string]any{"password": "a long new password"}},
		{name: "disable", method: "PATCH", body: map[string]any{"disabled": true}},
		{name: "delete", method: "DELETE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call(tt.method, "/api/v1/users/static-1", tt.body)
			if r.status != 409 || r.errorCode().Code != CodeConflict || !strings.Contains(r.errorCode().Message, "config file") {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	after, _ := h.store.User(ctx, "static-1")
	if after.Name != "" || after.Disabled || after.PasswordHash != u.PasswordHash {
		t.Errorf("the static user changed: %+v", after)
	}
	if len(h.auditActions()) != 0 {
		t.Error("a refused change was audited")
	}
}
