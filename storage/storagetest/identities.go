package storagetest

import (
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func identityKey(i storage.Identity) string { return i.ConnectorID + "\x00" + i.Subject }

func testIdentities(t *testing.T, open openDir) {
	setup := func(t *testing.T) (storage.Directory, *Clock) {
		d, c := open(t)
		mustOK(t, "CreateUser", d.CreateUser(t.Context(), fullUser(c, "u1")))
		mustOK(t, "CreateUser", d.CreateUser(t.Context(), fullUser(c, "u2")))
		return d, c
	}
	t.Run("link and read back every field", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		a := fullIdentity(c, "ldap", "alice", "u1")
		b := fullIdentity(c, "github", "1234", "u1")
		other := fullIdentity(c, "ldap", "bob", "u2")
		for _, i := range []storage.Identity{a, b, other} {
			mustOK(t, "LinkIdentity", d.LinkIdentity(ctx, i))
		}
		got, err := d.Identity(ctx, "ldap", "alice")
		mustOK(t, "Identity", err)
		assertEqual(t, "Identity", a, got)
		list, err := d.IdentitiesByUser(ctx, "u1")
		mustOK(t, "IdentitiesByUser", err)
		assertEqual(t, "IdentitiesByUser", sorted([]storage.Identity{a, b}, identityKey), sorted(list, identityKey))
		list, err = d.IdentitiesByUser(ctx, "nobody")
		mustOK(t, "IdentitiesByUser unknown", err)
		if len(list) != 0 {
			t.Errorf("IdentitiesByUser unknown: %d identities", len(list))
		}
	})
	t.Run("zero values round-trip", func(t *testing.T) {
		d, _ := setup(t)
		ctx := t.Context()
		want := storage.Identity{ConnectorID: "ldap", Subject: "bare", UserID: "u1"}
		mustOK(t, "LinkIdentity", d.LinkIdentity(ctx, want))
		got, err := d.Identity(ctx, "ldap", "bare")
		mustOK(t, "Identity", err)
		assertEqual(t, "Identity", want, got)
	})
	t.Run("a linked identity is a conflict, to anyone", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		mustOK(t, "LinkIdentity", d.LinkIdentity(ctx, fullIdentity(c, "ldap", "alice", "u1")))
		wantErr(t, "LinkIdentity same user", d.LinkIdentity(ctx, fullIdentity(c, "ldap", "alice", "u1")), storage.ErrConflict)
		wantErr(t, "LinkIdentity other user", d.LinkIdentity(ctx, fullIdentity(c, "ldap", "alice", "u2")), storage.ErrConflict)
		got, err := d.Identity(ctx, "ldap", "alice")
		mustOK(t, "Identity", err)
		if got.UserID != "u1" {
			t.Errorf("identity moved to %q after a refused link", got.UserID)
		}
		// The same subject at another connector is another identity.
		mustOK(t, "LinkIdentity other connector", d.LinkIdentity(ctx, fullIdentity(c, "github", "alice", "u2")))
	})
	t.Run("linking to a missing user is not found", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		wantErr(t, "LinkIdentity", d.LinkIdentity(ctx, fullIdentity(c, "ldap", "alice", "nobody")), storage.ErrNotFound)
		_, err := d.Identity(ctx, "ldap", "alice")
		wantErr(t, "Identity after refused link", err, storage.ErrNotFound)
	})
	t.Run("update changes all but the keys and the user", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		mustOK(t, "LinkIdentity", d.LinkIdentity(ctx, fullIdentity(c, "ldap", "alice", "u1")))
		want := storage.Identity{
			ConnectorID:   "ldap",
			Subject:       "alice",
			UserID:        "u1",
			Claims:        fullClaims("changed"),
			ConnectorData: []byte("new upstream state"),
			LinkedAt:      at(c, -2*time.Hour),
			LastUsedAt:    at(c, 0),
		}
		err := d.UpdateIdentity(ctx, "ldap", "alice", func(i *storage.Identity) error {
			*i = want
			i.ConnectorID, i.Subject, i.UserID = "other", "other", "u2"
			return nil
		})
		mustOK(t, "UpdateIdentity", err)
		got, err := d.Identity(ctx, "ldap", "alice")
		mustOK(t, "Identity", err)
		assertEqual(t, "updated identity", want, got)
		_, err = d.Identity(ctx, "other", "other")
		wantErr(t, "Identity under changed keys", err, storage.ErrNotFound)
		list, err := d.IdentitiesByUser(ctx, "u2")
		mustOK(t, "IdentitiesByUser", err)
		if len(list) != 0 {
			t.Errorf("identity moved to u2 by UpdateIdentity")
		}
	})
	t.Run("fn error aborts the update", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		want := fullIdentity(c, "ldap", "alice", "u1")
		mustOK(t, "LinkIdentity", d.LinkIdentity(ctx, want))
		err := d.UpdateIdentity(ctx, "ldap", "alice", func(i *storage.Identity) error {
			i.Claims.Name = "half-done"
			i.ConnectorData[0] = 'X'
			return errAbort
		})
		wantErr(t, "UpdateIdentity", err, errAbort)
		got, err := d.Identity(ctx, "ldap", "alice")
		mustOK(t, "Identity", err)
		assertEqual(t, "identity after aborted update", want, got)
	})
	t.Run("unlink", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		mustOK(t, "LinkIdentity", d.LinkIdentity(ctx, fullIdentity(c, "ldap", "alice", "u1")))
		mustOK(t, "UnlinkIdentity", d.UnlinkIdentity(ctx, "ldap", "alice"))
		_, err := d.Identity(ctx, "ldap", "alice")
		wantErr(t, "Identity after unlink", err, storage.ErrNotFound)
		wantErr(t, "UnlinkIdentity twice", d.UnlinkIdentity(ctx, "ldap", "alice"), storage.ErrNotFound)
		mustOK(t, "relink to another user", d.LinkIdentity(ctx, fullIdentity(c, "ldap", "alice", "u2")))
	})
	t.Run("missing identity is not found", func(t *testing.T) {
		d, _ := setup(t)
		ctx := t.Context()
		_, err := d.Identity(ctx, "ldap", "nobody")
		wantErr(t, "Identity", err, storage.ErrNotFound)
		err = d.UpdateIdentity(ctx, "ldap", "nobody", func(*storage.Identity) error { return nil })
		wantErr(t, "UpdateIdentity", err, storage.ErrNotFound)
		wantErr(t, "UnlinkIdentity", d.UnlinkIdentity(ctx, "ldap", "nobody"), storage.ErrNotFound)
	})
	t.Run("callers cannot alias stored bytes", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		i := fullIdentity(c, "ldap", "alice", "u1")
		want := fullIdentity(c, "ldap", "alice", "u1")
		mustOK(t, "LinkIdentity", d.LinkIdentity(ctx, i))
		i.ConnectorData[0], i.Claims.Groups[0] = 'X', "mutated"
		got, err := d.Identity(ctx, "ldap", "alice")
		mustOK(t, "Identity", err)
		got.ConnectorData[0], got.Claims.Groups[0] = 'Y', "mutated"
		got, err = d.Identity(ctx, "ldap", "alice")
		mustOK(t, "Identity", err)
		assertEqual(t, "Identity", want, got)
	})
}
