package storagetest

import (
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func clientID(c storage.Client) string { return c.ID }

func connectorID(c storage.ConnectorConfig) string { return c.ID }

func testClients(t *testing.T, open openDir) {
	t.Run("create, read, list", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		list, err := d.ListClients(ctx)
		mustOK(t, "ListClients empty", err)
		if len(list) != 0 {
			t.Errorf("ListClients on an empty store: %d clients", len(list))
		}
		a, b, bare := fullClient(c, "a"), fullClient(c, "b"), storage.Client{ID: "bare"}
		for _, cl := range []storage.Client{b, bare, a} {
			mustOK(t, "CreateClient "+cl.ID, d.CreateClient(ctx, cl))
		}
		got, err := d.Client(ctx, "a")
		mustOK(t, "Client", err)
		assertEqual(t, "Client", a, got)
		got, err = d.Client(ctx, "bare")
		mustOK(t, "Client bare", err)
		assertEqual(t, "Client bare", bare, got)
		list, err = d.ListClients(ctx)
		mustOK(t, "ListClients", err)
		assertEqual(t, "ListClients", []storage.Client{a, b, bare}, sorted(list, clientID))
	})
	t.Run("duplicate ID is a conflict", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateClient", d.CreateClient(ctx, fullClient(c, "a")))
		wantErr(t, "CreateClient again", d.CreateClient(ctx, fullClient(c, "a")), storage.ErrConflict)
	})
	t.Run("update changes all but the ID", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateClient", d.CreateClient(ctx, fullClient(c, "a")))
		want := storage.Client{
			ID:           "a",
			Name:         "Renamed",
			RedirectURIs: []string{"https://new.example/cb"},
			GrantTypes:   []string{"urn:ietf:params:oauth:grant-type:device_code"},
			CreatedAt:    at(c, -2*time.Hour),
			UpdatedAt:    at(c, 0),
		}
		err := d.UpdateClient(ctx, "a", func(cl *storage.Client) error {
			*cl = want
			cl.ID = "renamed"
			return nil
		})
		mustOK(t, "UpdateClient", err)
		got, err := d.Client(ctx, "a")
		mustOK(t, "Client", err)
		assertEqual(t, "updated client", want, got)
		_, err = d.Client(ctx, "renamed")
		wantErr(t, "Client under changed ID", err, storage.ErrNotFound)
	})
	t.Run("fn error aborts the update", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		want := fullClient(c, "a")
		mustOK(t, "CreateClient", d.CreateClient(ctx, want))
		err := d.UpdateClient(ctx, "a", func(cl *storage.Client) error {
			cl.Name = "half-done"
			cl.RedirectURIs[0] = "https://evil.example/"
			return errAbort
		})
		wantErr(t, "UpdateClient", err, errAbort)
		got, err := d.Client(ctx, "a")
		mustOK(t, "Client", err)
		assertEqual(t, "client after aborted update", want, got)
	})
	t.Run("delete", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateClient", d.CreateClient(ctx, fullClient(c, "a")))
		mustOK(t, "CreateClient", d.CreateClient(ctx, fullClient(c, "b")))
		mustOK(t, "DeleteClient", d.DeleteClient(ctx, "a"))
		_, err := d.Client(ctx, "a")
		wantErr(t, "Client after delete", err, storage.ErrNotFound)
		list, err := d.ListClients(ctx)
		mustOK(t, "ListClients", err)
		assertEqual(t, "ListClients after delete", []storage.Client{fullClient(c, "b")}, list)
		mustOK(t, "CreateClient again", d.CreateClient(ctx, fullClient(c, "a")))
	})
	t.Run("missing client is not found", func(t *testing.T) {
		d, _ := open(t)
		ctx := t.Context()
		_, err := d.Client(ctx, "nobody")
		wantErr(t, "Client", err, storage.ErrNotFound)
		err = d.UpdateClient(ctx, "nobody", func(*storage.Client) error { return nil })
		wantErr(t, "UpdateClient", err, storage.ErrNotFound)
		wantErr(t, "DeleteClient", d.DeleteClient(ctx, "nobody"), storage.ErrNotFound)
	})
}

func testConnectors(t *testing.T, open openDir) {
	t.Run("create, read, list", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		list, err := d.ListConnectors(ctx)
		mustOK(t, "ListConnectors empty", err)
		if len(list) != 0 {
			t.Errorf("ListConnectors on an empty store: %d connectors", len(list))
		}
		a, b, bare := fullConnector(c, "a"), fullConnector(c, "b"), storage.ConnectorConfig{ID: "bare"}
		for _, cc := range []storage.ConnectorConfig{b, bare, a} {
			mustOK(t, "CreateConnector "+cc.ID, d.CreateConnector(ctx, cc))
		}
		got, err := d.Connector(ctx, "a")
		mustOK(t, "Connector", err)
		assertEqual(t, "Connector", a, got)
		got, err = d.Connector(ctx, "bare")
		mustOK(t, "Connector bare", err)
		assertEqual(t, "Connector bare", bare, got)
		list, err = d.ListConnectors(ctx)
		mustOK(t, "ListConnectors", err)
		assertEqual(t, "ListConnectors", []storage.ConnectorConfig{a, b, bare}, sorted(list, connectorID))
	})
	t.Run("duplicate ID is a conflict", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateConnector", d.CreateConnector(ctx, fullConnector(c, "a")))
		wantErr(t, "CreateConnector again", d.CreateConnector(ctx, fullConnector(c, "a")), storage.ErrConflict)
	})
	t.Run("update changes all but the ID", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateConnector", d.CreateConnector(ctx, fullConnector(c, "a")))
		want := storage.ConnectorConfig{
			ID:        "a",
			Type:      "ldap",
			Name:      "Renamed",
			Config:    []byte(`{"host":"ldap.example"}`),
			CreatedAt: at(c, -2*time.Hour),
			UpdatedAt: at(c, 0),
		}
		err := d.UpdateConnector(ctx, "a", func(cc *storage.ConnectorConfig) error {
			*cc = want
			cc.ID = "renamed"
			return nil
		})
		mustOK(t, "UpdateConnector", err)
		got, err := d.Connector(ctx, "a")
		mustOK(t, "Connector", err)
		assertEqual(t, "updated connector", want, got)
		_, err = d.Connector(ctx, "renamed")
		wantErr(t, "Connector under changed ID", err, storage.ErrNotFound)
	})
	t.Run("fn error aborts the update", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		want := fullConnector(c, "a")
		mustOK(t, "CreateConnector", d.CreateConnector(ctx, want))
		err := d.UpdateConnector(ctx, "a", func(cc *storage.ConnectorConfig) error {
			cc.Name = "half-done"
			cc.Config[0] = '['
			return errAbort
		})
		wantErr(t, "UpdateConnector", err, errAbort)
		got, err := d.Connector(ctx, "a")
		mustOK(t, "Connector", err)
		assertEqual(t, "connector after aborted update", want, got)
	})
	t.Run("delete", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateConnector", d.CreateConnector(ctx, fullConnector(c, "a")))
		mustOK(t, "CreateConnector", d.CreateConnector(ctx, fullConnector(c, "b")))
		mustOK(t, "DeleteConnector", d.DeleteConnector(ctx, "a"))
		_, err := d.Connector(ctx, "a")
		wantErr(t, "Connector after delete", err, storage.ErrNotFound)
		list, err := d.ListConnectors(ctx)
		mustOK(t, "ListConnectors", err)
		assertEqual(t, "ListConnectors after delete", []storage.ConnectorConfig{fullConnector(c, "b")}, list)
	})
	t.Run("missing connector is not found", func(t *testing.T) {
		d, _ := open(t)
		ctx := t.Context()
		_, err := d.Connector(ctx, "nobody")
		wantErr(t, "Connector", err, storage.ErrNotFound)
		err = d.UpdateConnector(ctx, "nobody", func(*storage.ConnectorConfig) error { return nil })
		wantErr(t, "UpdateConnector", err, storage.ErrNotFound)
		wantErr(t, "DeleteConnector", d.DeleteConnector(ctx, "nobody"), storage.ErrNotFound)
	})
}
