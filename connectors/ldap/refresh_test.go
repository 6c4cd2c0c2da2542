package ldap

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/foyerid/foyer/connectors"
)

func login(t *testing.T, c *Connector, username, password string) connectors.Identity {
	t.Helper()
	id, ok, err := c.Login(context.Background(), connectors.Scopes{Groups: true, OfflineAccess: true}, username, password)
	if err != nil || !ok {
		t.Fatalf("Login(%s) = %v, %v", username, ok, err)
	}
	return id
}

func refresh(c *Connector, id connectors.Identity) (connectors.Identity, error) {
	return c.Refresh(context.Background(), connectors.Scopes{Groups: true, OfflineAccess: true}, id)
}

// The refresh tests change the directory, so they run in order on one
// slapd of their own.
func TestRefresh(t *testing.T) {
	t.Parallel()
	s := directory(t)
	c, _ := open(t, testConfig(s))

	t.Run("unchanged", func(t *testing.T) {
		id := login(t, c, "alice", "alice-pw")
		got, err := refresh(c, id)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if !identityEqual(got, id) || string(got.Data) != string(id.Data) {
			t.Fatalf("Refresh changed the identity:\n got %+v\nwant %+v", got, id)
		}
	})

	t.Run("groups changed", func(t *testing.T) {
		id := login(t, c, "alice", "alice-pw")
		s.Add(t, `dn: cn=admins,ou=groups,dc=example,dc=org
changetype: modify
delete: member
member: uid=alice,ou=people,dc=example,dc=org

dn: cn=auditors,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: auditors
member: uid=alice,ou=people,dc=example,dc=org

dn: cn=staff,ou=groups,dc=example,dc=org
changetype: modify
delete: memberUid
memberUid: alice
`)
		got, err := refresh(c, id)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if want := []string{"auditors", "developers", "engineering", "everyone"}; !slices.Equal(got.Groups, want) {
			t.Fatalf("groups = %q, want %q", got.Groups, want)
		}
		if got.Subject != id.Subject || got.Email != id.Email {
			t.Fatalf("Refresh changed more than the groups: %+v", got)
		}
	})

	t.Run("attributes changed", func(t *testing.T) {
		id := login(t, c, "carol", "carol-pw")
		s.Add(t, `dn: uid=carol,ou=people,dc=example,dc=org
changetype: modify
replace: mail
mail: carol@example.net
`)
		got, err := refresh(c, id)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if got.Email != "carol@example.net" {
			t.Fatalf("email = %q, want the new one", got.Email)
		}
	})

	t.Run("entry renamed: found again by username", func(t *testing.T) {
		id := login(t, c, "bob", "bob-pw")
		s.Add(t, `dn: uid=bob,ou=people,dc=example,dc=org
changetype: modrdn
newrdn: cn=Bob
deleteoldrdn: 0
`)
		got, err := refresh(c, id)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		var data refreshData
		if err := json.Unmarshal(got.Data, &data); err != nil || data.DN != "cn=Bob,ou=people,dc=example,dc=org" {
			t.Fatalf("Data = %s, want the new DN", got.Data)
		}
		if got.Subject != id.Subject {
			t.Fatalf("subject changed: %q, was %q", got.Subject, id.Subject)
		}
		if s.MemberOf { // the refint overlay renamed bob in his group
			if want := []string{"developers", "engineering", "everyone"}; !slices.Equal(got.Groups, want) {
				t.Fatalf("groups = %q, want %q", got.Groups, want)
			}
		}
	})

	t.Run("disabled by the user filter", func(t *testing.T) {
		id := login(t, c, "carol", "carol-pw")
		s.Add(t, `dn: uid=carol,ou=people,dc=example,dc=org
changetype: modify
add: employeeType
employeeType: disabled
`)
		if _, err := refresh(c, id); !errors.Is(err, connectors.ErrIdentityGone) {
			t.Fatalf("Refresh of a disabled user: err = %v, want ErrIdentityGone", err)
		}
		if _, ok, err := c.Login(context.Background(), connectors.Scopes{}, "carol", "carol-pw"); ok || err != nil {
			t.Fatalf("Login of a disabled user = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("user deleted", func(t *testing.T) {
		id := login(t, c, "alice", "alice-pw")
		s.Delete(t, "uid=alice,ou=people,dc=example,dc=org")
		if _, err := refresh(c, id); !errors.Is(err, connectors.ErrIdentityGone) {
			t.Fatalf("Refresh of a deleted user: err = %v, want ErrIdentityGone", err)
		}
	})

	t.Run("username taken by another entry", func(t *testing.T) {
		s.Add(t, `dn: uid=dave,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: dave
cn: Dave
sn: One
userPassword: dave-pw
`)
		id := login(t, c, "dave", "dave-pw")
		s.Delete(t, "uid=dave,ou=people,dc=example,dc=org")
		s.Add(t, `dn: uid=dave,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: dave
cn: Dave
sn: Two
userPassword: dave-pw
`)
		if _, err := refresh(c, id); !errors.Is(err, connectors.ErrIdentityGone) {
			t.Fatalf("Refresh after the entry was replaced: err = %v, want ErrIdentityGone", err)
		}
	})

	t.Run("unreadable data", func(t *testing.T) {
		for _, data := range []string{"", "{", `{"dn":""}`} {
			id := connectors.Identity{Subject: "x", Data: []byte(data)}
			if _, err := refresh(c, id); !errors.Is(err, connectors.ErrIdentityGone) {
				t.Errorf("Refresh with data %q: err = %v, want ErrIdentityGone", data, err)
			}
		}
	})

	t.Run("DN outside the user search", func(t *testing.T) {
		// The service account's DN is a real entry, but not a user.
		id := connectors.Identity{Subject: "x", Data: []byte(`{"dn":"cn=foyer,dc=example,dc=org","username":"foyer"}`)}
		if _, err := refresh(c, id); !errors.Is(err, connectors.ErrIdentityGone) {
			t.Fatalf("Refresh: err = %v, want ErrIdentityGone", err)
		}
	})
}
