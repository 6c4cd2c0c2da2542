package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func consentClient(c storage.Consent) string { return c.ClientID }

func testConsents(t *testing.T, open openDir) {
	// Users and clients exist first, for backends that enforce references.
	setup := func(t *testing.T) (storage.Directory, *Clock) {
		d, c := open(t)
		for _, id := range []string{"u1", "u2"} {
			mustOK(t, "CreateUser", d.CreateUser(t.Context(), fullUser(c, id)))
		}
		for _, id := range []string{"c1", "c2"} {
			mustOK(t, "CreateClient", d.CreateClient(t.Context(), fullClient(c, id)))
		}
		return d, c
	}
	t.Run("put, read, list", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		a, b, other := fullConsent(c, "u1", "c1"), fullConsent(c, "u1", "c2"), fullConsent(c, "u2", "c1")
		other.Scopes = []string{"openid"}
		for _, k := range []storage.Consent{a, b, other} {
			mustOK(t, "PutConsent", d.PutConsent(ctx, k))
		}
		got, err := d.Consent(ctx, "u1", "c1")
		mustOK(t, "Consent", err)
		assertEqual(t, "Consent", a, got)
		got, err = d.Consent(ctx, "u2", "c1")
		mustOK(t, "Consent other", err)
		assertEqual(t, "Consent other", other, got)
		list, err := d.ConsentsByUser(ctx, "u1")
		mustOK(t, "ConsentsByUser", err)
		assertEqual(t, "ConsentsByUser", []storage.Consent{a, b}, sorted(list, consentClient))
		list, err = d.ConsentsByUser(ctx, "nobody")
		mustOK(t, "ConsentsByUser unknown", err)
		if len(list) != 0 {
			t.Errorf("ConsentsByUser unknown: %d consents", len(list))
		}
	})
	t.Run("put replaces", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		mustOK(t, "PutConsent", d.PutConsent(ctx, fullConsent(c, "u1", "c1")))
		want := storage.Consent{UserID: "u1", ClientID: "c1", Scopes: []string{"openid"}, GrantedAt: at(c, time.Minute)}
		mustOK(t, "PutConsent again", d.PutConsent(ctx, want))
		got, err := d.Consent(ctx, "u1", "c1")
		mustOK(t, "Consent", err)
		assertEqual(t, "replaced consent", want, got)
		list, err := d.ConsentsByUser(ctx, "u1")
		mustOK(t, "ConsentsByUser", err)
		assertEqual(t, "ConsentsByUser", []storage.Consent{want}, list)
	})
	t.Run("delete", func(t *testing.T) {
		d, c := setup(t)
		ctx := t.Context()
		mustOK(t, "PutConsent", d.PutConsent(ctx, fullConsent(c, "u1", "c1")))
		mustOK(t, "PutConsent", d.PutConsent(ctx, fullConsent(c, "u1", "c2")))
		mustOK(t, "DeleteConsent", d.DeleteConsent(ctx, "u1", "c1"))
		_, err := d.Consent(ctx, "u1", "c1")
		wantErr(t, "Consent after delete", err, storage.ErrNotFound)
		_, err = d.Consent(ctx, "u1", "c2")
		mustOK(t, "other consent after delete", err)
		wantErr(t, "DeleteConsent twice", d.DeleteConsent(ctx, "u1", "c1"), storage.ErrNotFound)
	})
	t.Run("missing consent is not found", func(t *testing.T) {
		d, _ := setup(t)
		_, err := d.Consent(t.Context(), "u1", "c1")
		wantErr(t, "Consent", err, storage.ErrNotFound)
	})
}

func testAudit(t *testing.T, open openDir) {
	t.Run("append keeps the ID given and fills an empty one", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		given := storage.AuditEvent{ID: "given", Time: at(c, 0), Actor: "admin", Action: "user.create", Target: "u1", Detail: `{"name":"Alice"}`}
		filled := storage.AuditEvent{Time: at(c, time.Second), Actor: "admin", Action: "user.delete", Target: "u1"}
		mustOK(t, "AppendAudit", d.AppendAudit(ctx, given))
		mustOK(t, "AppendAudit without ID", d.AppendAudit(ctx, filled))
		mustOK(t, "AppendAudit without ID again", d.AppendAudit(ctx, filled))
		got, err := d.ListAudit(ctx, time.Time{}, 0)
		mustOK(t, "ListAudit", err)
		if len(got) != 3 {
			t.Fatalf("ListAudit: %d events, want 3", len(got))
		}
		assertEqual(t, "first event", given, got[0])
		for i, e := range got[1:] {
			if e.ID == "" || e.ID == "given" {
				t.Errorf("event %d: ID %q was not filled in", i+1, e.ID)
			}
			e.ID = ""
			assertEqual(t, fmt.Sprintf("event %d", i+1), filled, e)
		}
		if got[1].ID == got[2].ID {
			t.Errorf("two events got the same ID %q", got[1].ID)
		}
	})
	t.Run("oldest first from since, at most limit", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		ev := func(i int) storage.AuditEvent {
			return storage.AuditEvent{ID: fmt.Sprintf("e%d", i), Time: at(c, time.Duration(i)*time.Second), Actor: "a", Action: "x"}
		}
		for _, i := range []int{3, 1, 4, 0, 2} {
			mustOK(t, "AppendAudit", d.AppendAudit(ctx, ev(i)))
		}
		tests := []struct {
			name  string
			since time.Time
			limit int
			want  []storage.AuditEvent
		}{
			{name: "all", since: time.Time{}, limit: 10, want: []storage.AuditEvent{ev(0), ev(1), ev(2), ev(3), ev(4)}},
			{name: "since is inclusive", since: ev(2).Time, limit: 10, want: []storage.AuditEvent{ev(2), ev(3), ev(4)}},
			{name: "between events", since: ev(2).Time.Add(ms), limit: 10, want: []storage.AuditEvent{ev(3), ev(4)}},
			{name: "limit keeps the oldest", since: ev(1).Time, limit: 2, want: []storage.AuditEvent{ev(1), ev(2)}},
			{name: "after the last", since: ev(4).Time.Add(ms), limit: 10, want: nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := d.ListAudit(ctx, tt.since, tt.limit)
				mustOK(t, "ListAudit", err)
				assertEqual(t, "ListAudit", tt.want, got)
			})
		}
	})
	t.Run("limit of zero or less means 100", func(t *testing.T) {
		d, c := open(t)
		ctx := t.Context()
		for i := range 105 {
			e := storage.AuditEvent{ID: fmt.Sprintf("e%03d", i), Time: at(c, time.Duration(i)*time.Second), Actor: "a", Action: "x"}
			mustOK(t, "AppendAudit", d.AppendAudit(ctx, e))
		}
		for _, limit := range []int{0, -1} {
			got, err := d.ListAudit(ctx, time.Time{}, limit)
			mustOK(t, "ListAudit", err)
			if len(got) != 100 {
				t.Fatalf("ListAudit(limit %d): %d events, want 100", limit, len(got))
			}
			if got[0].ID != "e000" || got[99].ID != "e099" {
				t.Errorf("ListAudit(limit %d): from %s to %s, want e000 to e099", limit, got[0].ID, got[99].ID)
			}
		}
	})
}
