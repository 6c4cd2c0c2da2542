package oidc

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/foyerid/foyer/internal/config"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	good := func() Config {
		return Config{Issuer: "https://accounts.google.com", ClientID: "id", ClientSecret: "secret"}
	}
	tests := []struct {
		name  string
		mod   func(*Config)
		paths []string // the paths of the problems, in order
	}{
		{name: "minimal"},
		{name: "everything set", mod: func(c *Config) {
			c.RedirectURI, c.Scopes, c.GroupsScope = "https://id.example.com/callback/google", []string{"openid", "email"}, "groups"
			c.HostedDomains, c.PromptType, c.SigningAlgs = []string{"example.com"}, "consent select_account", []string{"RS256", "PS256", "ES384", "EdDSA"}
			c.GetUserInfo, c.InsecureSkipEmailVerified = true, true
		}},
		{name: "http on loopback", mod: func(c *Config) {
			c.Issuer, c.RedirectURI = "http://127.0.0.1:5556", "http://localhost:5557/callback/up"
		}},
		{name: "empty", mod: func(c *Config) { *c = Config{} }, paths: []string{"issuer", "clientID", "clientSecret"}},
		{name: "issuer over http", mod: func(c *Config) { c.Issuer = "http://id.example.com" }, paths: []string{"issuer"}},
		{name: "issuer relative", mod: func(c *Config) { c.Issuer = "id.example.com" }, paths: []string{"issuer"}},
		{name: "issuer with a query", mod: func(c *Config) { c.Issuer = "https://id.example.com?x=1" }, paths: []string{"issuer"}},
		{name: "issuer with a fragment", mod: func(c *Config) { c.Issuer = "https://id.example.com#x" }, paths: []string{"issuer"}},
		{name: "issuer with user info", mod: func(c *Config) { c.Issuer = "https://u:p@id.example.com" }, paths: []string{"issuer"}},
		{name: "redirect over http", mod: func(c *Config) { c.RedirectURI = "http://id.example.com/cb" }, paths: []string{"redirectURI"}},
		{name: "scopes without openid", mod: func(c *Config) { c.Scopes = []string{"email"} }, paths: []string{"scopes"}},
		{name: "scope with a space", mod: func(c *Config) { c.Scopes = []string{"openid", "a b", ""} }, paths: []string{"scopes[1]", "scopes[2]"}},
		{name: "groups scope with a quote", mod: func(c *Config) { c.GroupsScope = `gr"oups` }, paths: []string{"groupsScope"}},
		{name: "bad hosted domains", mod: func(c *Config) { c.HostedDomains = []string{"", "a@b.com", "*"} },
			paths: []string{"hostedDomains[0]", "hostedDomains[1]", "hostedDomains[2]"}},
		{name: "unknown prompt", mod: func(c *Config) { c.PromptType = "consent always" }, paths: []string{"promptType"}},
		{name: "prompt none with others", mod: func(c *Config) { c.PromptType = "none login" }, paths: []string{"promptType"}},
		{name: "prompt none alone", mod: func(c *Config) { c.PromptType = "none" }},
		{name: "signing algs none and HMAC", mod: func(c *Config) { c.SigningAlgs = []string{"none", "HS256", "hs512", "RS256", "XX1"} },
			paths: []string{"signingAlgs[0]", "signingAlgs[1]", "signingAlgs[2]", "signingAlgs[4]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := good()
			if tt.mod != nil {
				tt.mod(&c)
			}
			var paths []string
			for _, p := range c.Validate() {
				paths = append(paths, p.Path)
				if p.Msg == "" {
					t.Errorf("%s: no message", p.Path)
				}
			}
			if !slices.Equal(paths, tt.paths) {
				t.Errorf("problems at %v, want %v", paths, tt.paths)
			}
		})
	}
}

func TestValidateKeepsSecret(t *testing.T) {
	t.Parallel()
	c := Config{Issuer: "nope", ClientID: "id", ClientSecret: "hunter2hunter2"}
	for _, p := range c.Validate() {
		if s := p.String(); strings.Contains(s, "hunter2") {
			t.Fatalf("a problem quotes the secret: %s", s)
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	domains := []string{"Example.COM"}
	c := Config{HostedDomains: domains}.withDefaults()
	if !slices.Equal(c.Scopes, DefaultScopes) || !slices.Equal(c.SigningAlgs, DefaultSigningAlgs) ||
		c.UserIDKey != "sub" || c.UserNameKey != "preferred_username" || c.EmailKey != "email" ||
		c.EmailVerifiedKey != "email_verified" || c.NameKey != "name" || c.GroupsKey != "groups" {
		t.Errorf("defaults: %+v", c)
	}
	if c.HostedDomains[0] != "example.com" || domains[0] != "Example.COM" {
		t.Errorf("hosted domains: %v, caller's changed to %v", c.HostedDomains, domains)
	}
}

// TestConfigDecodesStrictly: the block decodes through internal/config
// with the documented key names, and a misspelt key is a problem.
func TestConfigDecodesStrictly(t *testing.T) {
	t.Parallel()
	file := `issuer: https://id.example.com
keys: {kek: {env: K}}
connectors:
  - id: google
    type: oidc
    config:
      issuer: https://accounts.google.com
      clientID: abc.apps.googleusercontent.com
      clientSecret: ${SECRET}
      scopes: [openid, email, profile]
      hostedDomains: [example.com]
      promptType: select_account
      userIDKey: sub
      userNameKey: email
      emailKey: email
      emailVerifiedKey: email_verified
      nameKey: name
      groupsKey: groups
      groupsScope: groups
      getUserInfo: false
      signingAlgs: [RS256]
      insecureSkipEmailVerified: false
      redirectURI: https://id.example.com/callback/google
`
	env := func(k string) (string, bool) { return "s3cret", k == "SECRET" }
	reg := config.Registry{Connectors: map[string]func() any{TypeName: Type.NewConfig}}
	cfg, err := config.Parse([]byte(file), "foyer.yaml", env, reg)
	if err != nil {
		t.Fatal(err)
	}
	oc := cfg.Connectors[0].Config.(*Config)
	if oc.ClientSecret.Reveal() != "s3cret" || oc.HostedDomains[0] != "example.com" || oc.UserNameKey != "email" {
		t.Fatalf("decoded %+v", oc)
	}
	bad := []byte("issuer: https://id.example.com\nkeys: {kek: {env: K}}\nconnectors:\n  - id: g\n    type: oidc\n    config:\n      issuer: https://accounts.google.com\n      clientId: x\n      clientSecret: y\n")
	_, err = config.Parse(bad, "foyer.yaml", nil, reg)
	ps, ok := err.(config.Problems)
	if !ok || len(ps) != 2 {
		t.Fatalf("want the misspelt key and the missing clientID, got %v", err)
	}
	lines := map[string]int{}
	for _, p := range ps {
		lines[p.Path] = p.Line
	}
	if lines["connectors[0].config.clientId"] != 8 || lines["connectors[0].config.clientID"] != 6 {
		t.Fatalf("problems at %v", lines)
	}
}

// TestDocPresets: every oidc block in docs/connectors/oidc.md is a valid
// configuration.
func TestDocPresets(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/connectors/oidc.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	reg := config.Registry{Connectors: map[string]func() any{TypeName: Type.NewConfig}}
	env := func(string) (string, bool) { return "value-for-tests", true }
	n := 0
	for _, b := range blocks {
		if !strings.Contains(b[1], "type: oidc") {
			continue
		}
		n++
		file := "issuer: https://id.example.com\nkeys: {kek: {env: K}}\n" + b[1]
		if _, err := config.Parse([]byte(file), "oidc.md", env, reg); err != nil {
			t.Errorf("preset %d:\n%s\n%v", n, b[1], err)
		}
	}
	if n < 3 {
		t.Fatalf("found %d oidc presets in the doc, want at least 3", n)
	}
}
