package ldap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/internal/config"
	"github.com/foyerid/foyer/internal/testenv"
)

// directoryLDIF is the test directory: a service account, people, groups
// of names nested three deep, a posixGroup, and two entries sharing a uid.
//
//	everyone  ⊃ engineering ⊃ developers ∋ alice, bob
//	admins    ∋ alice, admin
//	staff     (posixGroup) memberUid alice, carol
const directoryLDIF = `dn: cn=foyer,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: foyer
userPassword: service-pw

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.org
userPassword: alice-pw

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Builder
userPassword: bob-pw

dn: uid=carol,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Singer
mail: carol@example.org
userPassword: carol-pw

dn: uid=admin,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: admin
cn: Admin
sn: Admin
userPassword: admin-pw

dn: cn=dup one,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: dup
cn: dup one
sn: One
userPassword: dup-pw

dn: cn=dup two,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: dup
cn: dup two
sn: Two
userPassword: dup-pw

dn: cn=developers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: developers
member: uid=alice,ou=people,dc=example,dc=org
member: uid=bob,ou=people,dc=example,dc=org

dn: cn=engineering,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: engineering
member: cn=developers,ou=groups,dc=example,dc=org

dn: cn=everyone,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: everyone
member: cn=engineering,ou=groups,dc=example,dc=org

dn: cn=admins,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=org
member: uid=admin,ou=people,dc=example,dc=org

dn: cn=staff,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: staff
gidNumber: 5000
memberUid: alice
memberUid: carol
`

// directory starts slapd with directoryLDIF loaded.
func directory(t *testing.T) *testenv.SlapdServer {
	t.Helper()
	s := testenv.Slapd(t)
	s.Add(t, directoryLDIF)
	return s
}

// testConfig is an LDAPS configuration for the test directory with the
// test CA, group search by DN and by memberUid, and nested groups.
func testConfig(s *testenv.SlapdServer) Config {
	return Config{
		Hosts:        []string{s.TLSAddr},
		RootCAData:   string(s.CAPEM),
		BindDN:       "cn=foyer,dc=example,dc=org",
		BindPassword: "service-pw",
		UserSearch: UserSearch{
			BaseDN:        "ou=people,dc=example,dc=org",
			Filter:        "(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))",
			Username:      "uid",
			IDAttr:        "entryUUID",
			EmailVerified: true,
		},
		GroupSearch: GroupSearch{
			BaseDN: "ou=groups,dc=example,dc=org",
			Filter: "(|(objectClass=groupOfNames)(objectClass=posixGroup))",
			UserMatchers: []UserMatcher{
				{UserAttr: "DN", GroupAttr: "member"},
				{UserAttr: "uid", GroupAttr: "memberUid"},
			},
			Nested: true,
		},
		Timeouts: Timeouts{Connect: config.Duration(5 * time.Second), Request: config.Duration(5 * time.Second)},
	}
}

// logBuffer collects a connector's log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func open(t *testing.T, cfg Config) (*Connector, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	c, err := Open(cfg, connectors.Env{ID: "ldap", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c, logs
}

// entryUUID reads the entryUUID of dn as the administrator.
func entryUUID(t *testing.T, s *testenv.SlapdServer, dn string) string {
	t.Helper()
	conn, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if err := conn.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatalf("bind: %v", err)
	}
	res, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"entryUUID"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", dn, err)
	}
	return res.Entries[0].GetAttributeValue("entryUUID")
}

func TestLogin(t *testing.T) {
	t.Parallel()
	s := directory(t)
	c, logs := open(t, testConfig(s))
	flat := testConfig(s)
	flat.GroupSearch.Nested = false
	cFlat, _ := open(t, flat)

	tests := []struct {
		name, username, password string
		c                        *Connector
		want                     connectors.Identity // Data is not compared
		wantOK                   bool
	}{
		{name: "attributes mapped and groups, nested included", username: "alice", password: "alice-pw", c: c, wantOK: true,
			want: connectors.Identity{
				Subject: entryUUID(t, s, "uid=alice,ou=people,dc=example,dc=org"), Email: "alice@example.org",
				EmailVerified: true, Name: "Alice Liddell", Username: "alice",
				Groups: []string{"admins", "developers", "engineering", "everyone", "staff"},
			}},
		{name: "groups without nesting", username: "alice", password: "alice-pw", c: cFlat, wantOK: true,
			want: connectors.Identity{
				Subject: entryUUID(t, s, "uid=alice,ou=people,dc=example,dc=org"), Email: "alice@example.org",
				EmailVerified: true, Name: "Alice Liddell", Username: "alice",
				Groups: []string{"admins", "developers", "staff"},
			}},
		{name: "no email is not a verified email", username: "bob", password: "bob-pw", c: c, wantOK: true,
			want: connectors.Identity{
				Subject: entryUUID(t, s, "uid=bob,ou=people,dc=example,dc=org"), Name: "Bob", Username: "bob",
				Groups: []string{"developers", "engineering", "everyone"},
			}},
		{name: "memberUid only", username: "carol", password: "carol-pw", c: c, wantOK: true,
			want: connectors.Identity{
				Subject: entryUUID(t, s, "uid=carol,ou=people,dc=example,dc=org"), Email: "carol@example.org",
				EmailVerified: true, Name: "Carol", Username: "carol", Groups: []string{"staff"},
			}},
		{name: "username case and spaces do not matter", username: "  ALICE ", password: "alice-pw", c: cFlat, wantOK: true,
			want: connectors.Identity{
				Subject: entryUUID(t, s, "uid=alice,ou=people,dc=example,dc=org"), Email: "alice@example.org",
				EmailVerified: true, Name: "Alice Liddell", Username: "alice",
				Groups: []string{"admins", "developers", "staff"},
			}},
		{name: "wrong password", username: "alice", password: "bob-pw", c: c},
		{name: "password case matters", username: "alice", password: "ALICE-PW", c: c},
		{name: "unknown user", username: "mallory", password: "alice-pw", c: c},
		{name: "a group is not a user", username: "developers", password: "alice-pw", c: c},
		{name: "the service account is not a user", username: "foyer", password: "service-pw", c: c},
		{name: "wildcard username", username: "*", password: "alice-pw", c: c},
		{name: "wildcard prefix", username: "ali*", password: "alice-pw", c: c},
		{name: "parentheses", username: ")(", password: "alice-pw", c: c},
		{name: "filter injection", username: "admin)(|(uid=*", password: "admin-pw", c: c},
		{name: "filter injection closing the AND", username: "admin))(|(uid=*", password: "admin-pw", c: c},
		{name: "balanced filter injection", username: "admin)(|(uid=*)", password: "admin-pw", c: c},
		{name: "balanced wildcard injection", username: "*)(uid=admin", password: "admin-pw", c: c},
		{name: "NUL byte", username: "admin\x00", password: "admin-pw", c: c},
		{name: "escaped bytes are not decoded", username: `\61lice`, password: "alice-pw", c: c},
		{name: "DN as username", username: "uid=alice,ou=people,dc=example,dc=org", password: "alice-pw", c: c},
		{name: "duplicate usernames are refused", username: "dup", password: "dup-pw", c: c},
		{name: "empty password", username: "alice", password: "", c: c},
		{name: "empty username", username: "", password: "alice-pw", c: c},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok, err := tt.c.Login(context.Background(), connectors.Scopes{Groups: true}, tt.username, tt.password)
			if err != nil {
				t.Fatalf("Login: error %v", err)
			}
			if ok != tt.wantOK {
				t.Fatalf("Login: ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				if got.Subject != "" || got.Data != nil || got.Groups != nil {
					t.Fatalf("a failed login returned an identity: %+v", got)
				}
				return
			}
			var data refreshData
			if err := json.Unmarshal(got.Data, &data); err != nil || data.DN == "" || data.Username != tt.want.Username {
				t.Errorf("Data = %s (%v), want the DN and username", got.Data, err)
			}
			got.Data = nil
			if got.Subject == "" || !identityEqual(got, tt.want) {
				t.Errorf("identity:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	t.Run("duplicates are logged", func(t *testing.T) {
		if _, ok, err := c.Login(context.Background(), connectors.Scopes{}, "dup", "dup-pw"); ok || err != nil {
			t.Fatalf("Login(dup) = %v, %v", ok, err)
		}
		if l := logs.String(); !strings.Contains(l, "several entries") || !strings.Contains(l, "cn=dup one") {
			t.Errorf("log does not name the duplicates:\n%s", l)
		}
		if strings.Contains(logs.String(), "dup-pw") || strings.Contains(logs.String(), "service-pw") {
			t.Error("a password was logged")
		}
	})
}

func identityEqual(a, b connectors.Identity) bool {
	return a.Subject == b.Subject && a.LocalUserID == b.LocalUserID && a.Email == b.Email &&
		a.EmailVerified == b.EmailVerified && a.Name == b.Name && a.Username == b.Username &&
		slices.Equal(a.Groups, b.Groups)
}

func TestLoginEmptyCredentialsStayOffline(t *testing.T) {
	t.Parallel()
	// A listener that counts connections stands in for the directory: an
	// empty password must not even connect.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = conn.Close()
		}
	}()
	cfg := Config{
		Hosts: []string{l.Addr().String()}, InsecureNoTLS: true,
		BindDN: "cn=foyer,dc=example,dc=org", BindPassword: "service-pw",
		UserSearch: UserSearch{BaseDN: "dc=example,dc=org", Username: "uid", IDAttr: "entryUUID"},
	}
	c, _ := open(t, cfg)
	for _, creds := range [][2]string{{"alice", ""}, {"", "pw"}, {"   ", "pw"}, {"", ""}} {
		if _, ok, err := c.Login(context.Background(), connectors.Scopes{}, creds[0], creds[1]); ok || err != nil {
			t.Errorf("Login(%q, %q) = %v, %v; want false, nil", creds[0], creds[1], ok, err)
		}
	}
	_ = l.Close()
	<-done
	if n := accepted.Load(); n != 0 {
		t.Fatalf("empty credentials opened %d connections", n)
	}
}

func TestLoginMemberOf(t *testing.T) {
	t.Parallel()
	s := directory(t)
	if !s.MemberOf {
		t.Skip("slapd here has no memberof overlay")
	}
	cfg := testConfig(s)
	cfg.GroupSearch = GroupSearch{}
	cfg.MemberOfAttr = "memberOf"
	c, _ := open(t, cfg)
	id, ok, err := c.Login(context.Background(), connectors.Scopes{Groups: true}, "alice", "alice-pw")
	if err != nil || !ok {
		t.Fatalf("Login = %v, %v", ok, err)
	}
	// memberOf is not transitive, and the posixGroup has no DN members.
	if want := []string{"admins", "developers"}; !slices.Equal(id.Groups, want) {
		t.Fatalf("groups = %q, want %q", id.Groups, want)
	}
}

func TestServiceAccountRefused(t *testing.T) {
	t.Parallel()
	s := directory(t)
	cfg := testConfig(s)
	cfg.BindPassword = "wrong"
	c, _ := open(t, cfg)
	_, ok, err := c.Login(context.Background(), connectors.Scopes{}, "alice", "alice-pw")
	if ok || err == nil {
		t.Fatalf("Login = %v, %v; want an error", ok, err)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Fatalf("a refused service account is not an unavailable directory: %v", err)
	}
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		t.Fatalf("err = %v, want invalidCredentials wrapped", err)
	}
}

// TestManyGroups crosses the page size of group searches and the chunk
// size of their filters.
func TestManyGroups(t *testing.T) {
	t.Parallel()
	s := directory(t)
	const n = groupPageSize + filterChunk + 1
	var ldif strings.Builder
	ldif.WriteString("dn: uid=eve,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: eve\ncn: Eve\nsn: E\nuserPassword: eve-pw\n\n")
	want := []string{"parent"}
	for i := range n {
		name := fmt.Sprintf("g%03d", i)
		want = append(want, name)
		fmt.Fprintf(&ldif, "dn: cn=%s,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: %s\nmember: uid=eve,ou=people,dc=example,dc=org\n\n", name, name)
	}
	// The parent's member is in the last chunk of the nested search.
	fmt.Fprintf(&ldif, "dn: cn=parent,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: parent\nmember: cn=g%03d,ou=groups,dc=example,dc=org\n", n-1)
	s.Add(t, ldif.String())
	slices.Sort(want)

	c, _ := open(t, testConfig(s))
	id := login(t, c, "eve", "eve-pw")
	if !slices.Equal(id.Groups, want) {
		t.Fatalf("got %d groups, want %d: %q", len(id.Groups), len(want), id.Groups)
	}
}
