package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	env := envMap(map[string]string{"HOST": "db.example.com", "EMPTY": "", "A_1": "x"})
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{"no reference", "plain", "plain", ""},
		{"whole value", "${HOST}", "db.example.com", ""},
		{"inside a value", "postgres://${HOST}:5432/foyer", "postgres://db.example.com:5432/foyer", ""},
		{"two references", "${A_1}-${A_1}", "x-x", ""},
		{"default when unset", "${PORT:-5432}", "5432", ""},
		{"default when empty", "${EMPTY:-fallback}", "fallback", ""},
		{"set value wins over default", "${HOST:-other}", "db.example.com", ""},
		{"empty default", "${PORT:-}", "", ""},
		{"default taken literally", "${PORT:-$${X}}", "$${X}", ""},
		{"set but empty", "${EMPTY}", "", ""},
		{"dollar dollar", "cost $$5", "cost $5", ""},
		{"escaped reference", "$${HOST}", "${HOST}", ""},
		{"lone dollar kept", "a$b$", "a$b$", ""},
		{"password hash kept", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", ""},
		{"bcrypt hash kept", "$2b$10$abcdefghijklmnopqrstuv", "$2b$10$abcdefghijklmnopqrstuv", ""},
		{"unset", "${NOPE}", "", "environment variable NOPE is not set"},
		{"empty name", "${}", "", "invalid ${}"},
		{"bad name", "${A-B}", "", "invalid ${A-B}"},
		{"shell default without colon", "${A-b}", "", "invalid ${A-b}"},
		{"unterminated", "x${HOST", "x${HOST", "unterminated ${"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, errs := expand(tt.in, env)
			if tt.wantErr != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].msg, tt.wantErr) {
					t.Fatalf("expand(%q) errors = %v, want %q", tt.in, errs, tt.wantErr)
				}
				return
			}
			if len(errs) != 0 || got != tt.want {
				t.Fatalf("expand(%q) = %q, %v; want %q", tt.in, got, errs, tt.want)
			}
		})
	}
}

// TestExpansionCannotInjectStructure: a variable's value is put into the
// scalar after parsing, so YAML syntax inside it stays text.
func TestExpansionCannotInjectStructure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
	}{
		{"colon space", "Acme: sign in"},
		{"flow mapping", "{title: x, admin: {addr: 0.0.0.0:1}}"},
		{"flow sequence", "[a, b]"},
		{"newline and key", "x\nadmin:\n  addr: 0.0.0.0:1"},
		{"comment", "a # b"},
		{"anchor and alias", "&a *b"},
		{"reference in the value is not expanded again", "${OTHER}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := base + "web:\n  title: ${TITLE}\n"
			env := map[string]string{"TITLE": tt.value, "OTHER": "expanded twice"}
			c, err := Parse([]byte(src), "foyer.yaml", envMap(env), testRegistry())
			if err != nil {
				t.Fatal(err)
			}
			if c.Web.Title != tt.value || c.Admin.Addr != "" {
				t.Errorf("title = %q, admin = %q; want title %q and no admin", c.Web.Title, c.Admin.Addr, tt.value)
			}
		})
	}
}

func TestExpansionOnlyInValues(t *testing.T) {
	t.Parallel()
	// A key is never expanded, so ${X} as a key is just an unknown key.
	ps := parseProblems(t, base+"${X}: 1\n", map[string]string{"X": "web"})
	checkProblems(t, ps, []want{{4, "${X}", "unknown key"}})

	// Non-string targets are parsed after expansion.
	src := base + "storage:\n  type: ${STORE:-postgres}\n  postgres:\n    url: ${PG}\n    maxConns: ${CONNS}\n" +
		"clients:\n  - id: a\n    public: ${PUBLIC}\n    redirectURIs: [\"${CB}\"]\n"
	env := map[string]string{"PG": "postgres://db/foyer", "CONNS": "25", "PUBLIC": "true", "CB": "https://a.example.com/cb"}
	c, err := Parse([]byte(src), "foyer.yaml", envMap(env), testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Type != "postgres" || c.Storage.Postgres.MaxConns != 25 || !c.Clients[0].Public || c.Clients[0].RedirectURIs[0] != env["CB"] {
		t.Errorf("expanded config: %+v %+v", c.Storage, c.Clients[0])
	}
	env["CONNS"] = "lots"
	ps = parseProblems(t, src, env)
	checkProblems(t, ps, []want{{8, "storage.postgres.maxConns", `expected an integer, got "lots"`}})
}

func TestNilEnvIsEmpty(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(base+"web:\n  title: ${T:-ok}\n  theme: ${NOPE}\n"), "foyer.yaml", nil, Registry{})
	ps, _ := err.(Problems)
	checkProblems(t, ps, []want{{6, "web.theme", "NOPE is not set"}})
}
