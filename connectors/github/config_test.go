package github_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/github"
	"github.com/foyerid/foyer/internal/config"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := func(mod func(*github.Config)) github.Config {
		c := github.Config{ClientID: "Iv1.abc", ClientSecret: "s3cret"}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	tests := []struct {
		name string
		cfg  github.Config
		want []string // problem paths
	}{
		{name: "minimal", cfg: valid(nil)},
		{name: "everything", cfg: valid(func(c *github.Config) {
			c.RedirectURI = "https://id.example.com/callback/github"
			c.HostName, c.RootCA = "github.example.com:8443", "/etc/foyer/ghes-ca.pem"
			c.Orgs = []github.Org{{Name: "acme", Teams: []string{"core-devs", "Ops Team"}}, {Name: "widgets"}}
			c.TeamNameField, c.LoadAllGroups, c.UseLoginAsID = "both", true, true
			c.PreferredEmailDomain = "*.example.com"
		})},
		{name: "loopback redirect URI over http", cfg: valid(func(c *github.Config) { c.RedirectURI = "http://127.0.0.1:5556/callback/github" })},
		{name: "nothing", cfg: github.Config{}, want: []string{"clientID", "clientSecret"}},
		{name: "blank client id", cfg: valid(func(c *github.Config) { c.ClientID = "  " }), want: []string{"clientID"}},
		{name: "relative redirect URI", cfg: valid(func(c *github.Config) { c.RedirectURI = "/callback/github" }), want: []string{"redirectURI"}},
		{name: "redirect URI scheme", cfg: valid(func(c *github.Config) { c.RedirectURI = "ftp://id.example.com/cb" }), want: []string{"redirectURI"}},
		{name: "redirect URI fragment", cfg: valid(func(c *github.Config) { c.RedirectURI = "https://id.example.com/cb#x" }), want: []string{"redirectURI"}},
		{name: "hostName with scheme", cfg: valid(func(c *github.Config) { c.HostName = "https://github.example.com" }), want: []string{"hostName"}},
		{name: "hostName with path", cfg: valid(func(c *github.Config) { c.HostName = "github.example.com/api/v3" }), want: []string{"hostName"}},
		{name: "rootCA without hostName", cfg: valid(func(c *github.Config) { c.RootCA = "/etc/ca.pem" }), want: []string{"rootCA"}},
		{name: "teamNameField", cfg: valid(func(c *github.Config) { c.TeamNameField = "id" }), want: []string{"teamNameField"}},
		{name: "org problems", cfg: valid(func(c *github.Config) {
			c.Orgs = []github.Org{{Name: "acme", Teams: []string{"ok", ""}}, {Name: ""}, {Name: "ACME"}, {Name: "acme/ops"}}
		}), want: []string{"orgs[0].teams[1]", "orgs[1].name", "orgs[2].name", "orgs[3].name"}},
		{name: "email domain with @", cfg: valid(func(c *github.Config) { c.PreferredEmailDomain = "@example.com" }), want: []string{"preferredEmailDomain"}},
		{name: "email domain wildcard only", cfg: valid(func(c *github.Config) { c.PreferredEmailDomain = "*." }), want: []string{"preferredEmailDomain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, p := range tt.cfg.Validate() {
				if p.Msg == "" {
					t.Errorf("%s: empty message", p.Path)
				}
				got = append(got, p.Path)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems at %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParse decodes a connector block through internal/config, as
// `foyer config check` does.
func TestParse(t *testing.T) {
	t.Parallel()
	reg := config.Registry{Connectors: connectors.Registry{github.TypeName: github.Type}.Configs()}
	src := `issuer: https://id.example.com
keys:
  kek: {env: FOYER_KEK}
connectors:
  - id: github
    type: github
    config:
      clientID: Iv1.abc
      clientSecret: ${GITHUB_SECRET}
      orgs:
        - name: acme
          teams: [core-devs]
      teamNameField: name
      loadAllGroups: true
`
	env := func(k string) (string, bool) {
		return map[string]string{"GITHUB_SECRET": "s3cret"}[k], k == "GITHUB_SECRET"
	}
	c, err := config.Parse([]byte(src), "foyer.yaml", env, reg)
	if err != nil {
		t.Fatal(err)
	}
	gc, ok := c.Connectors[0].Config.(*github.Config)
	if !ok {
		t.Fatalf("config is %T", c.Connectors[0].Config)
	}
	if gc.ClientSecret.Reveal() != "s3cret" || gc.TeamNameField != "name" || !gc.LoadAllGroups ||
		len(gc.Orgs) != 1 || !slices.Equal(gc.Orgs[0].Teams, []string{"core-devs"}) {
		t.Errorf("decoded %+v", gc)
	}

	bad := strings.Replace(src, "teamNameField: name", "teamNameField: id\n      hostname: ghe.example", 1)
	_, err = config.Parse([]byte(bad), "foyer.yaml", env, reg)
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("Parse: %v, want two problems", err)
	}
	for _, p := range ps {
		if p.Line == 0 || !strings.HasPrefix(p.Path, "connectors[0].config.") {
			t.Errorf("problem %v lacks a line or its path", p)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := github.Config{ClientID: "Iv1.abc", ClientSecret: "s3cret", HostName: "ghe.example"}
	tests := []struct {
		name string
		cfg  github.Config
	}{
		{name: "invalid config", cfg: github.Config{ClientID: "Iv1.abc"}},
		{name: "rootCA missing", cfg: func() github.Config { c := base; c.RootCA = filepath.Join(dir, "absent.pem"); return c }()},
		{name: "rootCA not PEM", cfg: func() github.Config { c := base; c.RootCA = notPEM; return c }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := github.Open(tt.cfg, connectors.Env{ID: "github"}); err == nil {
				t.Fatal("Open succeeded")
			} else if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
	t.Run("registry", func(t *testing.T) {
		t.Parallel()
		reg := connectors.Registry{github.TypeName: github.Type}
		cfg := github.Type.NewConfig().(*github.Config)
		*cfg = base
		impl, err := reg.Open(github.TypeName, cfg, connectors.Env{ID: "github", CallbackURL: callbackURL})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := impl.(connectors.RefreshConnector); !ok {
			t.Errorf("%T is not a RefreshConnector", impl)
		}
		if _, err := github.Type.Open(base, connectors.Env{}); err == nil {
			t.Error("Type.Open took a Config value, not a pointer")
		}
	})
}
