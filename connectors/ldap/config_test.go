package ldap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/internal/config"
)

// validConfig is a minimal valid configuration.
func validConfig() Config {
	return Config{
		Hosts:        []string{"ldap.example.org:636"},
		BindDN:       "cn=foyer,dc=example,dc=org",
		BindPassword: "secret",
		UserSearch:   UserSearch{BaseDN: "ou=people,dc=example,dc=org", Username: "uid", IDAttr: "entryUUID"},
	}
}

// testPEM is a self-signed CA certificate, made once.
var testPEM = newCAPEM()

// newCAPEM returns the PEM of a new self-signed CA certificate.
func newCAPEM() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Config)
		want []string // "path: message fragment", in order
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "valid with everything", edit: func(c *Config) {
			c.Hosts = []string{"ldap1.example.org:636", "ldap2.example.org", "[2001:db8::1]:636", "10.0.0.1"}
			c.RootCA = "/etc/ssl/ldap-ca.pem"
			c.UserSearch = UserSearch{BaseDN: "dc=example,dc=org", Filter: "(&(objectClass=person)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
				Username: "sAMAccountName", Scope: "one", IDAttr: "objectGUID", EmailAttr: "mail", NameAttr: "displayName",
				PreferredUsernameAttr: "sAMAccountName", EmailVerified: true}
			c.GroupSearch = GroupSearch{BaseDN: "ou=groups,dc=example,dc=org", Filter: "(objectClass=group)", Scope: "sub",
				UserMatchers: []UserMatcher{{UserAttr: "DN", GroupAttr: "member:1.2.840.113556.1.4.1941:"}, {UserAttr: "uid", GroupAttr: "memberUid"}},
				NameAttr:     "cn", Nested: true}
			c.Timeouts = Timeouts{Connect: config.Duration(time.Second), Request: config.Duration(2 * time.Second)}
		}},
		{name: "valid with memberOf and a password file", edit: func(c *Config) {
			c.MemberOfAttr, c.BindPassword, c.BindPasswordFile = "memberOf", "", "/run/secrets/ldap"
		}},
		{name: "valid plain LDAP", edit: func(c *Config) { c.InsecureNoTLS = true }},
		{name: "valid StartTLS with inline CA", edit: func(c *Config) { c.StartTLS, c.RootCAData = true, testPEM }},
		{name: "empty", edit: func(c *Config) { *c = Config{} }, want: []string{
			"hosts: required", "bindDN: required", "bindPassword: required",
			"userSearch.baseDN: required", "userSearch.username: required", "userSearch.idAttr: required",
		}},
		{name: "bad hosts", edit: func(c *Config) {
			c.Hosts = []string{"ldaps://ldap.example.org", "", "ldap:0", "ldap:99999", "ldap:x", "a:b:c", "user@ldap:636"}
		}, want: []string{
			"hosts[0]: \"ldaps://ldap.example.org\": write host:port, not a URL", "hosts[1]: empty host",
			"hosts[2]: \"ldap:0\": port must be", "hosts[3]: \"ldap:99999\": port must be", "hosts[4]: \"ldap:x\": port must be",
			"hosts[5]: \"a:b:c\" is not host:port", "hosts[6]: \"user@ldap:636\" is not host:port",
		}},
		{name: "insecureNoTLS with TLS settings", edit: func(c *Config) {
			c.InsecureNoTLS, c.StartTLS, c.InsecureSkipVerify, c.RootCA = true, true, true, "/ca.pem"
		}, want: []string{
			"insecureNoTLS: cannot be combined with startTLS", "insecureSkipVerify: has no effect with insecureNoTLS",
			"rootCA: has no effect with insecureNoTLS",
		}},
		{name: "both root CAs", edit: func(c *Config) { c.RootCA, c.RootCAData = "/ca.pem", testPEM }, want: []string{
			"rootCAData: set rootCA or rootCAData, not both",
		}},
		{name: "root CA data not PEM", edit: func(c *Config) { c.RootCAData = "MIIB..." }, want: []string{
			"rootCAData: holds no PEM certificate",
		}},
		{name: "bad DNs", edit: func(c *Config) {
			c.BindDN, c.UserSearch.BaseDN, c.GroupSearch.BaseDN = "foyer", "ou=people,,", "=x"
			c.GroupSearch.UserMatchers = []UserMatcher{{UserAttr: "DN", GroupAttr: "member"}}
		}, want: []string{
			"bindDN: \"foyer\" is not a DN", "groupSearch.baseDN: \"=x\" is not a DN", "userSearch.baseDN: \"ou=people,,\" is not a DN",
		}},
		{name: "both passwords", edit: func(c *Config) { c.BindPasswordFile = "/pw" }, want: []string{
			"bindPasswordFile: set bindPassword or bindPasswordFile, not both",
		}},
		{name: "bad user search", edit: func(c *Config) {
			c.UserSearch.Filter, c.UserSearch.Scope = "objectClass=person", "base"
			c.UserSearch.Username, c.UserSearch.IDAttr, c.UserSearch.EmailAttr = "u id", "(uid)", "mail="
			c.UserSearch.NameAttr, c.UserSearch.PreferredUsernameAttr = "DN", "-x"
		}, want: []string{
			"userSearch.emailAttr: \"mail=\" is not an attribute name", "userSearch.filter: not an LDAP filter",
			"userSearch.idAttr: \"(uid)\" is not an attribute name", "userSearch.nameAttr: DN is only allowed as userSearch.idAttr",
			"userSearch.preferredUsernameAttr: \"-x\" is not an attribute name", "userSearch.scope: must be sub or one, not \"base\"",
			"userSearch.username: \"u id\" is not an attribute name",
		}},
		{name: "idAttr DN and attribute options are fine", edit: func(c *Config) {
			c.UserSearch.IDAttr, c.UserSearch.NameAttr = "dn", "cn;lang-en"
		}},
		{name: "group search without base or matchers", edit: func(c *Config) { c.GroupSearch.Nested = true }, want: []string{
			"groupSearch.baseDN: required", "groupSearch.userMatchers: required",
		}},
		{name: "bad group search", edit: func(c *Config) {
			c.GroupSearch = GroupSearch{BaseDN: "ou=groups,dc=example,dc=org", Filter: "(cn=", Scope: "subtree", NameAttr: "c n",
				UserMatchers: []UserMatcher{{}, {UserAttr: "uid", GroupAttr: "memberUid=x"}, {UserAttr: "uid", GroupAttr: "member)(cn=*"}},
				Nested:       true}
		}, want: []string{
			"groupSearch.filter: not an LDAP filter", "groupSearch.nameAttr: \"c n\" is not an attribute name",
			"groupSearch.nested: needs a user matcher with userAttr DN", "groupSearch.scope: must be sub or one",
			"groupSearch.userMatchers[0].groupAttr: required", "groupSearch.userMatchers[0].userAttr: required",
			"groupSearch.userMatchers[1].groupAttr: \"memberUid=x\" is not an attribute",
			"groupSearch.userMatchers[2].groupAttr: \"member)(cn=*\" is not an attribute",
		}},
		{name: "memberOf and group search", edit: func(c *Config) {
			c.MemberOfAttr = "member Of"
			c.GroupSearch = GroupSearch{BaseDN: "ou=groups,dc=example,dc=org", UserMatchers: []UserMatcher{{UserAttr: "DN", GroupAttr: "member"}}}
		}, want: []string{
			"memberOfAttr: \"member Of\" is not an attribute name", "memberOfAttr: set memberOfAttr or groupSearch, not both",
		}},
		{name: "negative timeouts", edit: func(c *Config) {
			c.Timeouts = Timeouts{Connect: config.Duration(-time.Second), Request: config.Duration(-time.Second)}
		}, want: []string{"timeouts.connect: must not be negative", "timeouts.request: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tt.edit(&c)
			var got []string
			for _, p := range c.Validate() {
				if p.Line != 0 || p.File != "" {
					t.Errorf("problem %v has a line or file: Validate knows neither", p)
				}
				got = append(got, p.Path+": "+p.Msg)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if len(got) != len(want) {
				t.Fatalf("problems:\n got %q\nwant %q", got, want)
			}
			for i := range want {
				if !strings.HasPrefix(got[i], want[i]) {
					t.Errorf("problem %d = %q, want it to start %q", i, got[i], want[i])
				}
			}
			if _, err := Open(c, connectors.Env{}); len(want) > 0 && err == nil {
				t.Error("Open accepted a config Validate refuses")
			}
		})
	}
}

// TestDecode decodes a config block the way the config file does: the
// keys are the documented ones, strictly.
func TestDecode(t *testing.T) {
	t.Parallel()
	const block = `
hosts: ["ldap1.example.org:636", "ldap2.example.org:636"]
startTLS: false
insecureNoTLS: false
insecureSkipVerify: false
rootCA: /etc/ssl/ldap-ca.pem
bindDN: cn=foyer,ou=services,dc=example,dc=org
bindPassword: ${LDAP_BIND_PASSWORD}
usernamePrompt: Corporate username
userSearch:
  baseDN: ou=people,dc=example,dc=org
  filter: (objectClass=inetOrgPerson)
  username: uid
  scope: sub
  idAttr: entryUUID
  emailAttr: mail
  nameAttr: cn
  preferredUsernameAttr: uid
  emailVerified: true
groupSearch:
  baseDN: ou=groups,dc=example,dc=org
  filter: (objectClass=groupOfNames)
  scope: one
  userMatchers:
    - userAttr: DN
      groupAttr: member
  nameAttr: cn
  nested: true
timeouts:
  connect: 3s
  request: 5s
`
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(block), &node); err != nil {
		t.Fatal(err)
	}
	d := config.Decoder{Env: func(k string) (string, bool) { return "s3cret", k == "LDAP_BIND_PASSWORD" }}
	v, ps := d.Resolve(node.Content[0], "connectors[0].config", Type.NewConfig)
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	c := v.(*Config)
	if c.BindPassword.Reveal() != "s3cret" || c.Timeouts.Request.Std() != 5*time.Second || !c.GroupSearch.Nested ||
		c.UserSearch.IDAttr != "entryUUID" || len(c.Hosts) != 2 || c.GroupSearch.UserMatchers[0].GroupAttr != "member" {
		t.Fatalf("decoded %+v", c)
	}

	bad := "hosts: [ldap:636]\nbindDn: x\nuserSearch: {baseDN: 'dc=x', username: uid, idattr: entryUUID}\n"
	if err := yaml.Unmarshal([]byte(bad), &node); err != nil {
		t.Fatal(err)
	}
	_, ps = d.Resolve(node.Content[0], "connectors[0].config", Type.NewConfig)
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	for _, want := range []string{"connectors[0].config.bindDn", "connectors[0].config.userSearch.idattr", "connectors[0].config.bindDN"} {
		if !slices.Contains(paths, want) {
			t.Errorf("no problem at %s in %v", want, ps)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, []byte(testPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("defaults", func(t *testing.T) {
		cfg := validConfig()
		cfg.Hosts = []string{"ldap1", "ldap2:1636", "[::1]"}
		c, err := Open(cfg, connectors.Env{})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"ldap1:636", "ldap2:1636", "[::1]:636"}; !slices.Equal(c.hosts, want) {
			t.Errorf("hosts = %q, want %q", c.hosts, want)
		}
		if c.UsernamePrompt() != DefaultUsernamePrompt || c.connectTimeout != DefaultConnectTimeout || c.requestTimeout != DefaultRequestTimeout {
			t.Errorf("defaults not applied: %q %v %v", c.UsernamePrompt(), c.connectTimeout, c.requestTimeout)
		}
		if !c.ldaps || c.tls == nil || c.tls.RootCAs != nil {
			t.Errorf("want LDAPS with the system roots")
		}
		us := c.cfg.UserSearch
		if us.EmailAttr != "mail" || us.NameAttr != "cn" || us.PreferredUsernameAttr != "uid" || us.Scope != "sub" {
			t.Errorf("user search defaults: %+v", us)
		}
		if want := []string{"cn", "entryUUID", "mail", "uid"}; !slices.Equal(c.userAttrs, want) {
			t.Errorf("attributes = %q, want %q", c.userAttrs, want)
		}
	})
	t.Run("plain ports", func(t *testing.T) {
		cfg := validConfig()
		cfg.Hosts, cfg.StartTLS = []string{"ldap1"}, true
		c, err := Open(cfg, connectors.Env{})
		if err != nil || c.hosts[0] != "ldap1:389" || c.ldaps {
			t.Fatalf("Open = %v, %v", c, err)
		}
	})
	t.Run("files", func(t *testing.T) {
		cfg := validConfig()
		cfg.BindPassword, cfg.BindPasswordFile, cfg.RootCA = "", pwFile, caFile
		c, err := Open(cfg, connectors.Env{})
		if err != nil {
			t.Fatal(err)
		}
		if c.bindPassword != "from-file" || c.tls.RootCAs == nil {
			t.Errorf("password %q, roots %v", c.bindPassword, c.tls.RootCAs)
		}
	})
	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{
		{name: "missing password file", edit: func(c *Config) { c.BindPassword, c.BindPasswordFile = "", filepath.Join(dir, "nope") }},
		{name: "empty password file", edit: func(c *Config) { c.BindPassword, c.BindPasswordFile = "", emptyFile }},
		{name: "missing CA file", edit: func(c *Config) { c.RootCA = filepath.Join(dir, "nope") }},
		{name: "CA file not PEM", edit: func(c *Config) { c.RootCA = pwFile }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.edit(&cfg)
			if _, err := Open(cfg, connectors.Env{}); err == nil {
				t.Fatal("Open succeeded")
			}
		})
	}
	t.Run("through the registry", func(t *testing.T) {
		reg := connectors.Registry{TypeName: Type}
		cfg := validConfig()
		c, err := reg.Open(TypeName, &cfg, connectors.Env{ID: "corp"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.(connectors.PasswordConnector); !ok {
			t.Fatalf("%T is not a PasswordConnector", c)
		}
		if _, err := reg.Open(TypeName, cfg, connectors.Env{}); err == nil {
			t.Fatal("a Config value (not a pointer) was accepted")
		}
	})
}
