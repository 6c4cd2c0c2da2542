package ldap

import (
	"encoding/hex"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIDValue(t *testing.T) {
	t.Parallel()
	entry := func(attr string, raw []byte) *goldap.Entry {
		return &goldap.Entry{DN: "cn=x,dc=example,dc=org", Attributes: []*goldap.EntryAttribute{{Name: attr, ByteValues: [][]byte{raw}, Values: []string{string(raw)}}}}
	}
	tests := []struct {
		name    string
		attr    string // as configured
		entry   *goldap.Entry
		want    string
		wantErr bool
	}{
		{name: "text", attr: "entryUUID", entry: entry("entryUUID", []byte("5a1c6f2e-0000-1000-8000-000000000001")), want: "5a1c6f2e-0000-1000-8000-000000000001"},
		{name: "attribute name case", attr: "ENTRYUUID", entry: entry("entryUUID", []byte("abc")), want: "abc"},
		{name: "DN", attr: "DN", entry: entry("uid", []byte("x")), want: "cn=x,dc=example,dc=org"},
		{name: "objectGUID, mixed-endian", attr: "objectGUID", entry: entry("objectGUID", mustHex(t, "67452301ab89efcd0123456789abcdef")),
			want: "01234567-89ab-cdef-0123-456789abcdef"},
		{name: "mS-DS-ConsistencyGuid", attr: "mS-DS-ConsistencyGuid", entry: entry("mS-DS-ConsistencyGuid", mustHex(t, "67452301ab89efcd0123456789abcdef")),
			want: "01234567-89ab-cdef-0123-456789abcdef"},
		{name: "objectSid of BUILTIN\\Administrators", attr: "objectSid", entry: entry("objectSid", mustHex(t, "01020000000000052000000020020000")),
			want: "S-1-5-32-544"},
		{name: "objectSid of a domain user", attr: "objectSid",
			entry: entry("objectSid", mustHex(t, "010500000000000515000000dcf4dc3b833d2b46828ba62800020000")),
			want:  "S-1-5-21-1004336348-1177238915-682003330-512"},
		{name: "missing", attr: "entryUUID", entry: entry("uid", []byte("x")), wantErr: true},
		{name: "short GUID", attr: "objectGUID", entry: entry("objectGUID", []byte{1, 2, 3}), wantErr: true},
		{name: "truncated SID", attr: "objectSid", entry: entry("objectSid", mustHex(t, "010500000000000515000000")), wantErr: true},
		{name: "binary text attribute", attr: "jpegPhoto", entry: entry("jpegPhoto", []byte{0xff, 0xd8, 0xff}), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := idValue(tt.entry, tt.attr)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("idValue = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestInScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dn, base, scope string
		want                  bool
	}{
		{name: "child, sub", dn: "uid=a,ou=people,dc=example,dc=org", base: "ou=people,dc=example,dc=org", scope: "sub", want: true},
		{name: "grandchild, sub", dn: "uid=a,ou=x,ou=people,dc=example,dc=org", base: "ou=people,dc=example,dc=org", scope: "sub", want: true},
		{name: "grandchild, one", dn: "uid=a,ou=x,ou=people,dc=example,dc=org", base: "ou=people,dc=example,dc=org", scope: "one"},
		{name: "child, one", dn: "uid=a,ou=people,dc=example,dc=org", base: "ou=people,dc=example,dc=org", scope: "one", want: true},
		{name: "case and spaces", dn: "UID=a, OU=People,DC=Example,DC=org", base: "ou=people,dc=example,dc=org", scope: "sub", want: true},
		{name: "the base itself", dn: "ou=people,dc=example,dc=org", base: "ou=people,dc=example,dc=org", scope: "sub"},
		{name: "elsewhere", dn: "cn=foyer,dc=example,dc=org", base: "ou=people,dc=example,dc=org", scope: "sub"},
		{name: "suffix of a value is not a parent", dn: "uid=a,ou=xpeople,dc=example,dc=org", base: "ou=people,dc=example,dc=org", scope: "sub"},
		{name: "unparseable", dn: "uid=a,,", base: "ou=people,dc=example,dc=org", scope: "sub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := inScope(tt.dn, tt.base, tt.scope); got != tt.want {
				t.Fatalf("inScope = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRDNValue(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, dn, want string }{
		{name: "AD group", dn: "CN=Domain Admins,CN=Users,DC=corp,DC=example,DC=com", want: "Domain Admins"},
		{name: "escaped comma", dn: `cn=R\2cD,ou=groups,dc=example,dc=org`, want: "R,D"},
		{name: "not a DN", dn: "Domain Admins", want: ""},
		{name: "empty", dn: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := rdnValue(tt.dn); got != tt.want {
				t.Fatalf("rdnValue(%q) = %q, want %q", tt.dn, got, tt.want)
			}
		})
	}
}
