package admin

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

// link stores a linked identity for a user.
func (h *harness) link(userID, connector, subject string) {
	h.t.Helper()
	err := h.store.LinkIdentity(context.Background(), storage.Identity{
		ConnectorID: connector, Subject: subject, UserID: userID, LinkedAt: time.Now(),
		Claims: storage.Claims{Email: "x@example.com"}, ConnectorData: []byte("upstream-refresh-token"),
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func identityPath(userID, connector, subject string) string {
	return "/api/v1/users/" + url.PathEscape(userID) + "/identities/" + url.PathEscape(connector) + "/" + url.PathEscape(subject)
}

func TestUnlinkIdentity(t *testing.T) {
	t.Parallel()
	const dn = "uid=bob,ou=people,dc=example,dc=com/x"
	tests := []struct {
		name           string
		password       bool
		localPasswords bool
		links          []string // subjects at connector corp
		unlink         string
		status         int
	}{
		{name: "the only identity", links: []string{dn}, unlink: dn, status: 409},
		{name: "a password is another way in", password: true, localPasswords: true, links: []string{dn}, unlink: dn, status: 204},
		{name: "a password without a local connector is none", password: true, links: []string{dn}, unlink: dn, status: 409},
		{name: "two identities", links: []string{dn, "other"}, unlink: dn, status: 204},
		{name: "not linked to this user", links: []string{dn, "other"}, unlink: "someone-else", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.LocalPasswords = tt.localPasswords })
			in := NewUser{Username: "bob"}
			if tt.password {
				in.Password = "a long enough password"
			}
			u := h.createUser(in)
			for _, s := range tt.links {
				h.link(u.ID, "corp", s)
			}
			var list IdentityList
			h.want(h.call("GET", "/api/v1/users/"+u.ID+"/identities", nil), 200, &list)
			if len(list.Identities) != len(tt.links) {
				t.Fatalf("listed %+v", list)
			}
			r := h.call("DELETE", identityPath(u.ID, "corp", tt.unlink), nil)
			if r.status != tt.status {
				t.Fatalf("unlink: %d %s, want %d", r.status, r.body, tt.status)
			}
			_, err := h.store.Identity(context.Background(), "corp", tt.unlink)
			if gone := err != nil; gone != (tt.status == 204 || tt.status == 404) {
				t.Errorf("identity gone: %v after %d", gone, tt.status)
			}
			actions := h.auditActions()
			if unlinked := slices.Contains(actions, "identity.unlink"); unlinked != (tt.status == 204) {
				t.Errorf("audit %v after %d", actions, tt.status)
			}
		})
	}
}

func TestSessionsAndGrants(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	u := h.createUser(NewUser{Username: "bob"})
	sess, grants := h.addSession(u.ID)

	var sl SessionList
	h.want(h.call("GET", "/api/v1/users/"+u.ID+"/sessions", nil), 200, &sl)
	if len(sl.Sessions) != 1 || sl.Sessions[0].ID != sess.ID || sl.Sessions[0].ConnectorID != "local" || !slices.Equal(sl.Sessions[0].Clients, []string{"app"}) {
		t.Fatalf("sessions %+v", sl)
	}
	r := h.call("GET", "/api/v1/users/"+u.ID+"/grants", nil)
	var gl GrantList
	h.want(r, 200, &gl)
	if len(gl.Grants) != 2 {
		t.Fatalf("grants %+v", gl)
	}
	for _, g := range grants {
		for _, secret := range []string{g.TokenHash, "sealed-successor", "c2VhbGVk", "upstream-refresh-token", "dXBzdHJlYW0"} {
			if strings.Contains(string(r.body), secret) {
				t.Errorf("the grant list shows %q: %s", secret, r.body)
			}
		}
	}
	if r := h.call("GET", "/api/v1/users/nobody/sessions", nil); r.status != 404 {
		t.Errorf("sessions of nobody: %d", r.status)
	}

	h.want(h.call("DELETE", "/api/v1/sessions/"+sess.ID, nil), 204, nil)
	if !slices.Equal(h.endedIDs(), []string{sess.ID}) {
		t.Fatalf("EndSession called for %v", h.endedIDs())
	}
	h.want(h.call("GET", "/api/v1/users/"+u.ID+"/sessions", nil), 200, &sl)
	if len(sl.Sessions) != 0 {
		t.Errorf("sessions after revoke: %+v", sl)
	}
	if r := h.call("DELETE", "/api/v1/sessions/"+sess.ID, nil); r.status != 404 {
		t.Errorf("second revoke: %d", r.status)
	}

	// The offline grant outlives the session; an administrator revokes it.
	offline := grants[1]
	if g, _ := h.store.Grant(ctx, offline.ID); g.Revoked {
		t.Fatal("the offline grant ended with the session")
	}
	h.want(h.call("DELETE", "/api/v1/grants/"+offline.ID, nil), 204, nil)
	if g, _ := h.store.Grant(ctx, offline.ID); !g.Revoked {
		t.Error("grant not revoked")
	}
	if r := h.call("DELETE", "/api/v1/grants/nope", nil); r.status != 404 {
		t.Errorf("unknown grant: %d", r.status)
	}
	want := []string{"user.create", "session.revoke", "grant.revoke"}
	if got := h.auditActions(); !slices.Equal(got, want) {
		t.Errorf("audit %v, want %v", got, want)
	}
}

func TestAuditQuery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, name := range []string{"a", "b", "c"} {
		h.createUser(NewUser{Username: name})
	}
	var al AuditList
	h.want(h.call("GET", "/api/v1/audit?limit=2", nil), 200, &al)
	if len(al.Events) != 2 || al.Events[0].Action != "user.create" || al.Events[0].Actor != "admin" || !al.Events[0].Time.Equal(testClock) {
		t.Fatalf("audit %+v", al)
	}
	h.want(h.call("GET", "/api/v1/audit?since="+url.QueryEscape(testClock.Add(time.Second).Format(time.RFC3339)), nil), 200, &al)
	if len(al.Events) != 0 {
		t.Errorf("events after since: %+v", al)
	}
	for _, tt := range []struct{ name, query, field string }{
		{name: "since not RFC 3339", query: "since=1h", field: "since"},
		{name: "limit zero", query: "limit=0", field: "limit"},
		{name: "limit too large", query: "limit=100000", field: "limit"},
		{name: "limit twice", query: "limit=1&limit=2", field: "limit"},
		{name: "unknown parameter", query: "actor=admin", field: "actor"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call("GET", "/api/v1/audit?"+tt.query, nil)
			if r.status != 400 || r.errorCode().Field != tt.field {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
}
