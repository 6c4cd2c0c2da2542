package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func TestSlapd(t *testing.T) {
	t.Parallel()
	s := Slapd(t)
	s.Add(t, `dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Liddell
mail: alice@example.org
userPassword: alice-pw

dn: cn=readers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: readers
member: uid=alice,ou=people,dc=example,dc=org
`)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.CAPEM) {
		t.Fatal("CAPEM holds no certificate")
	}
	tlsConfig := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}

	t.Run("user binds over plain LDAP", func(t *testing.T) {
		conn := dial(t, s.URL, nil)
		bind(t, conn, "uid=alice,ou=people,dc=example,dc=org", "alice-pw")
	})
	t.Run("LDAPS with the test CA", func(t *testing.T) {
		conn := dial(t, s.LDAPSURL, tlsConfig)
		bind(t, conn, s.AdminDN, s.AdminPassword)
	})
	t.Run("StartTLS with the test CA", func(t *testing.T) {
		conn := dial(t, s.URL, nil)
		if err := conn.StartTLS(tlsConfig); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		bind(t, conn, s.AdminDN, s.AdminPassword)
	})
	t.Run("anonymous clients cannot search", func(t *testing.T) {
		conn := dial(t, s.URL, nil)
		res, err := conn.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, "(uid=alice)", []string{"dn"}, nil))
		if err == nil && len(res.Entries) > 0 {
			t.Fatalf("anonymous search found %d entries", len(res.Entries))
		}
	})
	t.Run("memberOf is maintained", func(t *testing.T) {
		if !s.MemberOf {
			t.Skip("no memberof overlay on this machine")
		}
		conn := dial(t, s.URL, nil)
		bind(t, conn, s.AdminDN, s.AdminPassword)
		res, err := conn.Search(ldap.NewSearchRequest("uid=alice,ou=people,dc=example,dc=org", ldap.ScopeBaseObject,
			ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"memberOf"}, nil))
		if err != nil {
			t.Fatalf("search: %v", err)
		}
		got := res.Entries[0].GetAttributeValues("memberOf")
		if len(got) != 1 || got[0] != "cn=readers,ou=groups,dc=example,dc=org" {
			t.Fatalf("memberOf = %q", got)
		}
	})
	t.Run("Add modifies and Delete deletes", func(t *testing.T) {
		s.Add(t, `dn: uid=alice,ou=people,dc=example,dc=org
changetype: modify
replace: mail
mail: alice@example.com
`)
		conn := dial(t, s.URL, nil)
		bind(t, conn, s.AdminDN, s.AdminPassword)
		res, err := conn.Search(ldap.NewSearchRequest("uid=alice,ou=people,dc=example,dc=org", ldap.ScopeBaseObject,
			ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"mail"}, nil))
		if err != nil {
			t.Fatalf("search: %v", err)
		}
		if got := res.Entries[0].GetAttributeValue("mail"); got != "alice@example.com" {
			t.Fatalf("mail = %q", got)
		}
		s.Delete(t, "cn=readers,ou=groups,dc=example,dc=org")
		_, err = conn.Search(ldap.NewSearchRequest("cn=readers,ou=groups,dc=example,dc=org", ldap.ScopeBaseObject,
			ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"cn"}, nil))
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			t.Fatalf("search of a deleted entry: err = %v, want noSuchObject", err)
		}
	})
}

func TestSlapdStopStart(t *testing.T) {
	t.Parallel()
	s := Slapd(t)
	s.Stop(t)
	if _, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second})); err == nil {
		t.Fatal("dial of a stopped slapd succeeded")
	}
	s.Start(t)
	conn := dial(t, s.URL, nil)
	bind(t, conn, s.AdminDN, s.AdminPassword)
	// The data survived the restart.
	res, err := conn.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"dc"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search of the base after restart: %v", err)
	}
}

func TestSlapdPauseResume(t *testing.T) {
	t.Parallel()
	s := Slapd(t)
	conn := dial(t, s.URL, nil)
	s.Pause(t)
	conn.SetTimeout(200 * time.Millisecond)
	err := conn.Bind(s.AdminDN, s.AdminPassword)
	if !ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
		t.Fatalf("bind to a paused slapd: err = %v, want a network error (timeout)", err)
	}
	s.Resume(t)
	bind(t, dial(t, s.URL, nil), s.AdminDN, s.AdminPassword)
	// Stop works on a paused server too.
	s.Pause(t)
	s.Stop(t)
}

func dial(t *testing.T, url string, tlsConfig *tls.Config) *ldap.Conn {
	t.Helper()
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second})}
	if tlsConfig != nil {
		opts = append(opts, ldap.DialWithTLSConfig(tlsConfig))
	}
	conn, err := ldap.DialURL(url, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	conn.SetTimeout(10 * time.Second)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func bind(t *testing.T, conn *ldap.Conn, dn, password string) {
	t.Helper()
	if err := conn.Bind(dn, password); err != nil {
		t.Fatalf("bind %s: %v", dn, err)
	}
}
