package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

// errAbort is what the Update tests' callbacks return.
var errAbort = errors.New("storagetest: update aborted by fn")

func userID(u storage.User) string { return u.ID }

func testUsers(t *testing.T, open openDir) {
	t.Run("create and read back every field", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		want := fullUser(c, "u1")
		mustOK(t, "CreateUser", d.CreateUser(ctx, want))
		got, err := d.User(ctx, "u1")
		mustOK(t, "User", err)
		assertEqual(t, "User", want, got)
		got, err = d.UserByUsername(ctx, want.Username)
		mustOK(t, "UserByUsername", err)
		assertEqual(t, "UserByUsername", want, got)
	})
	t.Run("zero values round-trip", func(t *testing.T) {
		d, _ := open(t)
		ctx := t.Context()
		want := storage.User{ID: "bare"}
		mustOK(t, "CreateUser", d.CreateUser(ctx, want))
		got, err := d.User(ctx, "bare")
		mustOK(t, "User", err)
		assertEqual(t, "User", want, got)
		if !got.CreatedAt.IsZero() || !got.LastLoginAt.IsZero() {
			t.Errorf("zero times came back as %v, %v", got.CreatedAt, got.LastLoginAt)
		}
	})
	t.Run("duplicate ID is a conflict", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateUser", d.CreateUser(ctx, fullUser(c, "u1")))
		dup := fullUser(c, "u1")
		dup.Username = "someone-else"
		wantErr(t, "CreateUser same ID", d.CreateUser(ctx, dup), storage.ErrConflict)
	})
	t.Run("duplicate username is a conflict", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		first := fullUser(c, "u1")
		mustOK(t, "CreateUser", d.CreateUser(ctx, first))
		dup := fullUser(c, "u2")
		dup.Username = first.Username
		wantErr(t, "CreateUser same username", d.CreateUser(ctx, dup), storage.ErrConflict)
		_, err := d.User(ctx, "u2")
		wantErr(t, "User after refused create", err, storage.ErrNotFound)
	})
	t.Run("empty usernames are not unique and not found", func(t *testing.T) {
		d, _ := open(t)
		ctx := t.Context()
		mustOK(t, "CreateUser a", d.CreateUser(ctx, storage.User{ID: "a"}))
		mustOK(t, "CreateUser b", d.CreateUser(ctx, storage.User{ID: "b"}))
		_, err := d.UserByUsername(ctx, "")
		wantErr(t, `UserByUsername("")`, err, storage.ErrNotFound)
	})
	t.Run("missing user is not found", func(t *testing.T) {
		d, _ := open(t)
		ctx := t.Context()
		_, err := d.User(ctx, "nobody")
		wantErr(t, "User", err, storage.ErrNotFound)
		_, err = d.UserByUsername(ctx, "nobody")
		wantErr(t, "UserByUsername", err, storage.ErrNotFound)
		err = d.UpdateUser(ctx, "nobody", func(*storage.User) error { return nil })
		wantErr(t, "UpdateUser", err, storage.ErrNotFound)
		wantErr(t, "DeleteUser", d.DeleteUser(ctx, "nobody"), storage.ErrNotFound)
	})
	t.Run("users by email and list", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		list, err := d.ListUsers(ctx)
		mustOK(t, "ListUsers empty", err)
		if len(list) != 0 {
			t.Errorf("ListUsers on an empty store: %d users", len(list))
		}
		a, b, other := fullUser(c, "a"), fullUser(c, "b"), fullUser(c, "c")
		a.Email, b.Email = "shared@example.org", "shared@example.org"
		for _, u := range []storage.User{b, other, a} {
			mustOK(t, "CreateUser "+u.ID, d.CreateUser(ctx, u))
		}
		got, err := d.UsersByEmail(ctx, "shared@example.org")
		mustOK(t, "UsersByEmail", err)
		assertEqual(t, "UsersByEmail", []storage.User{a, b}, sorted(got, userID))
		got, err = d.UsersByEmail(ctx, "none@example.org")
		mustOK(t, "UsersByEmail unknown", err)
		if len(got) != 0 {
			t.Errorf("UsersByEmail unknown: %d users", len(got))
		}
		got, err = d.ListUsers(ctx)
		mustOK(t, "ListUsers", err)
		assertEqual(t, "ListUsers", []storage.User{a, b, other}, sorted(got, userID))
	})
	t.Run("delete cascades identities and consents", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		gone, kept := fullUser(c, "gone"), fullUser(c, "kept")
		mustOK(t, "CreateUser", d.CreateUser(ctx, gone))
		mustOK(t, "CreateUser", d.CreateUser(ctx, kept))
		for _, id := range []string{"c1", "c2"} {
			mustOK(t, "CreateClient", d.CreateClient(ctx, fullClient(c, id)))
		}
		links := []storage.Identity{
			fullIdentity(c, "ldap", "s-gone", "gone"),
			fullIdentity(c, "github", "s-gone", "gone"),
			fullIdentity(c, "ldap", "s-kept", "kept"),
		}
		for _, i := range links {
			mustOK(t, "LinkIdentity", d.LinkIdentity(ctx, i))
		}
		for _, k := range []storage.Consent{
			fullConsent(c, "gone", "c1"), fullConsent(c, "gone", "c2"), fullConsent(c, "kept", "c1"),
		} {
			mustOK(t, "PutConsent", d.PutConsent(ctx, k))
		}

		mustOK(t, "DeleteUser", d.DeleteUser(ctx, "gone"))

		_, err := d.User(ctx, "gone")
		wantErr(t, "User after delete", err, storage.ErrNotFound)
		_, err = d.UserByUsername(ctx, gone.Username)
		wantErr(t, "UserByUsername after delete", err, storage.ErrNotFound)
		_, err = d.Identity(ctx, "ldap", "s-gone")
		wantErr(t, "Identity after delete", err, storage.ErrNotFound)
		ids, err := d.IdentitiesByUser(ctx, "gone")
		mustOK(t, "IdentitiesByUser", err)
		if len(ids) != 0 {
			t.Errorf("IdentitiesByUser after delete: %d identities", len(ids))
		}
		_, err = d.Consent(ctx, "gone", "c1")
		wantErr(t, "Consent after delete", err, storage.ErrNotFound)
		cs, err := d.ConsentsByUser(ctx, "gone")
		mustOK(t, "ConsentsByUser", err)
		if len(cs) != 0 {
			t.Errorf("ConsentsByUser after delete: %d consents", len(cs))
		}

		got, err := d.User(ctx, "kept")
		mustOK(t, "User kept", err)
		assertEqual(t, "kept user", kept, got)
		gotID, err := d.Identity(ctx, "ldap", "s-kept")
		mustOK(t, "Identity kept", err)
		assertEqual(t, "kept identity", links[2], gotID)
		gotC, err := d.Consent(ctx, "kept", "c1")
		mustOK(t, "Consent kept", err)
		assertEqual(t, "kept consent", fullConsent(c, "kept", "c1"), gotC)

		// The freed identity and username can be used again.
		mustOK(t, "relink freed identity", d.LinkIdentity(ctx, fullIdentity(c, "ldap", "s-gone", "kept")))
		again := fullUser(c, "again")
		again.Username = gone.Username
		mustOK(t, "reuse freed username", d.CreateUser(ctx, again))
	})
	t.Run("callers cannot alias stored slices", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		u := fullUser(c, "u1")
		want := fullUser(c, "u1")
		mustOK(t, "CreateUser", d.CreateUser(ctx, u))
		u.Groups[0] = "mutated-after-create"
		got, err := d.User(ctx, "u1")
		mustOK(t, "User", err)
		got.Groups[0] = "mutated-after-read"
		got, err = d.User(ctx, "u1")
		mustOK(t, "User", err)
		assertEqual(t, "User", want, got)
	})
}

func testUserUpdates(t *testing.T, open openDir) {
	t.Run("update changes every field but the ID", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateUser", d.CreateUser(ctx, fullUser(c, "u1")))
		want := storage.User{
			ID:            "u1",
			Email:         "new@example.org",
			EmailVerified: false,
			Name:          "New Name",
			Username:      "new-username",
			Groups:        []string{"new"},
			PasswordHash:  "$2a$10$abcdefghijklmnopqrstuv",
			CreatedAt:     at(c, -3*time.Hour),
			UpdatedAt:     at(c, 0),
			LastLoginAt:   at(c, time.Second),
		}
		err := d.UpdateUser(ctx, "u1", func(u *storage.User) error {
			*u = want
			u.ID = "renamed"
			return nil
		})
		mustOK(t, "UpdateUser", err)
		got, err := d.User(ctx, "u1")
		mustOK(t, "User", err)
		assertEqual(t, "updated user", want, got)
		_, err = d.User(ctx, "renamed")
		wantErr(t, "User under the changed ID", err, storage.ErrNotFound)
		got, err = d.UserByUsername(ctx, "new-username")
		mustOK(t, "UserByUsername new", err)
		assertEqual(t, "UserByUsername new", want, got)
		_, err = d.UserByUsername(ctx, "user-u1")
		wantErr(t, "UserByUsername old", err, storage.ErrNotFound)
		mustOK(t, "reuse old username", d.CreateUser(ctx, storage.User{ID: "u2", Username: "user-u1"}))
	})
	t.Run("fn error aborts the update", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		want := fullUser(c, "u1")
		mustOK(t, "CreateUser", d.CreateUser(ctx, want))
		err := d.UpdateUser(ctx, "u1", func(u *storage.User) error {
			u.Name = "half-done"
			u.Groups[0] = "half-done"
			return errAbort
		})
		wantErr(t, "UpdateUser", err, errAbort)
		got, err := d.User(ctx, "u1")
		mustOK(t, "User", err)
		assertEqual(t, "user after aborted update", want, got)
	})
	t.Run("update to a taken username is a conflict", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		a, b := fullUser(c, "a"), fullUser(c, "b")
		mustOK(t, "CreateUser", d.CreateUser(ctx, a))
		mustOK(t, "CreateUser", d.CreateUser(ctx, b))
		err := d.UpdateUser(ctx, "b", func(u *storage.User) error {
			u.Username = a.Username
			return nil
		})
		wantErr(t, "UpdateUser", err, storage.ErrConflict)
		got, err := d.User(ctx, "b")
		mustOK(t, "User", err)
		assertEqual(t, "user after refused update", b, got)
		got, err = d.UserByUsername(ctx, a.Username)
		mustOK(t, "UserByUsername", err)
		assertEqual(t, "owner of the username", a, got)
	})
	t.Run("update keeping the username is no conflict", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateUser", d.CreateUser(ctx, fullUser(c, "a")))
		err := d.UpdateUser(ctx, "a", func(u *storage.User) error {
			u.Name = "Renamed"
			return nil
		})
		mustOK(t, "UpdateUser", err)
	})
}
