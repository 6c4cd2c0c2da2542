package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const leak = "hunter2-s3cr3t"

// secretConfig parses a config holding the same secret in every Secret field.
func secretConfig(t *testing.T) *Config {
	t.Helper()
	src := base + "storage:\n  type: postgres\n  postgres:\n    url: postgres://foyer:${S}@db/foyer\n" +
		"  sessions:\n    type: redis\n    redis: {addrs: [\"r:6379\"], password: \"${S}\"}\n" +
		"clients:\n  - id: app\n    secret: ${S}\n    redirectURIs: [https://app.example.com/cb]\n" +
		"connectors:\n  - id: corp\n    type: ldap\n    config: {host: h, bindPassword: \"${S}\"}\n"
	c, err := Parse([]byte(src), "foyer.yaml", envMap(map[string]string{"S": leak}), testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if c.Clients[0].Secret.Reveal() != leak || c.Storage.Sessions.Redis.Password.Reveal() != leak ||
		c.Connectors[0].Config.(*ldapConfig).BindPassword.Reveal() != leak {
		t.Fatal("secret not decoded")
	}
	return c
}

func TestSecretRedacted(t *testing.T) {
	t.Parallel()
	c := secretConfig(t)
	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("config", "client", c.Clients[0], "secret", c.Clients[0].Secret, "cfg", c)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("config", "client", c.Clients[0], "secret", c.Clients[0].Secret, "cfg", c)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := []struct {
		name string
		out  string
	}{
		{"%v config", fmt.Sprintf("%v", c)},
		{"%+v config", fmt.Sprintf("%+v", *c)},
		{"%+v client", fmt.Sprintf("%+v", c.Clients[0])},
		{"%#v client", fmt.Sprintf("%#v", c.Clients[0])},
		{"%+v storage", fmt.Sprintf("%+v", c.Storage.Postgres)},
		{"%+v sessions", fmt.Sprintf("%+v", *c.Storage.Sessions)},
		{"%+v connector", fmt.Sprintf("%+v", c.Connectors[0].Config)},
		//lint:ignore S1025 the %s verb is what is under test
		{"%s secret", fmt.Sprintf("%s", c.Clients[0].Secret)},
		{"%q secret", fmt.Sprintf("%q", c.Clients[0].Secret)},
		{"%x secret", fmt.Sprintf("%x", c.Clients[0].Secret)},
		{"String", c.Clients[0].Secret.String()},
		{"json", string(js)},
		{"yaml", string(ys)},
		{"slog json", jsonLog.String()},
		{"slog text", textLog.String()},
	}
	for _, o := range outputs {
		if strings.Contains(o.out, leak) || strings.Contains(o.out, fmt.Sprintf("%x", leak)) {
			t.Errorf("%s leaks the secret: %s", o.name, o.out)
		}
		if !strings.Contains(o.out, "REDACTED") && !strings.Contains(o.out, fmt.Sprintf("%x", "REDACTED")) {
			t.Errorf("%s does not say REDACTED: %s", o.name, o.out)
		}
	}
}

func TestEmptySecretShowsEmpty(t *testing.T) {
	t.Parallel()
	var s Secret
	js, _ := json.Marshal(s)
	if s.String() != "" || string(js) != `""` {
		t.Errorf("empty secret shows %q / %s", s.String(), js)
	}
}

func TestProblemsNeverQuoteSecrets(t *testing.T) {
	t.Parallel()
	src := base + "storage:\n  type: postgres\n  postgres:\n    url: mysql://u:" + leak + "@db\n" +
		"clients:\n  - id: app\n    public: true\n    secret: " + leak + "\n    redirectURIs: [https://app.example.com/cb]\n"
	ps := parseProblems(t, src, nil)
	if len(ps) != 2 {
		t.Fatalf("want 2 problems, got:\n%v", ps)
	}
	if strings.Contains(ps.Error(), leak) {
		t.Errorf("problems quote the secret:\n%v", ps)
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string
	}{
		{"hours", "6h", 6 * time.Hour, ""},
		{"seconds", "90s", 90 * time.Second, ""},
		{"mixed", "1h30m", 90 * time.Minute, ""},
		{"milliseconds", "100ms", 100 * time.Millisecond, ""},
		{"zero", "0", 0, ""},
		{"empty", "", 0, ""},
		{"bare number", "10", 0, "use a unit, e.g. 10m"},
		{"bare float", "1.5", 0, "use a unit, e.g. 10m"},
		{"days", "2d", 0, "write 48h"},
		{"garbage", "ten minutes", 0, "not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDuration(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Std() != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"hours", 720 * time.Hour, "720h"},
		{"hours and minutes", 90 * time.Minute, "1h30m"},
		{"minutes", 10 * time.Minute, "10m"},
		{"seconds", 5 * time.Second, "5s"},
		{"milliseconds", 100 * time.Millisecond, "100ms"},
		{"zero", 0, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := Duration(tt.d)
			js, _ := json.Marshal(d)
			if d.String() != tt.want || string(js) != `"`+tt.want+`"` {
				t.Errorf("%v formats as %q and %s, want %q", tt.d, d.String(), js, tt.want)
			}
			back, err := ParseDuration(d.String())
			if err != nil || back != d {
				t.Errorf("round trip of %q: %v, %v", d.String(), back, err)
			}
		})
	}
}
