package config

import (
	"strings"
	"testing"
)

// base is a valid three-line start that the table cases add to; their own
// lines start at line 4.
const base = "issuer: https://id.example.com\nkeys:\n  kek: {env: FOYER_KEK}\n"

func TestDecodeProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		env   map[string]string
		wants []want
	}{
		{
			name:  "unknown top-level key with suggestion",
			src:   base + "loging:\n  level: info\n",
			wants: []want{{4, "loging", "unknown key (did you mean logging?)"}},
		},
		{
			name:  "unknown nested key with suggestion",
			src:   base + "http:\n  adr: 127.0.0.1:5556\n",
			wants: []want{{5, "http.adr", "unknown key (did you mean addr?)"}},
		},
		{
			name:  "unknown key, case differs",
			src:   base + "http:\n  trustedproxies: []\n",
			wants: []want{{5, "http.trustedproxies", "(did you mean trustedProxies?)"}},
		},
		{
			name:  "unknown key without suggestion",
			src:   base + "web:\n  colour: blue\n",
			wants: []want{{5, "web.colour", "unknown key"}},
		},
		{
			name:  "duplicate key",
			src:   base + "web:\n  title: A\n  title: B\n",
			wants: []want{{6, "web.title", "duplicate key (first at line 5)"}},
		},
		{
			name:  "duplicate top-level key",
			src:   base + "issuer: https://other.example.com\n",
			wants: []want{{4, "issuer", "duplicate key (first at line 1)"}},
		},
		{
			name:  "mapping where a string is expected",
			src:   base + "http:\n  addr: {host: x}\n",
			wants: []want{{5, "http.addr", "expected a string"}},
		},
		{
			name:  "list where a string is expected, no follow-on problem",
			src:   "issuer: [https://id.example.com]\nkeys:\n  kek: {env: FOYER_KEK}\n",
			wants: []want{{1, "issuer", "expected a string"}},
		},
		{
			name:  "scalar where a list is expected",
			src:   base + "http:\n  trustedProxies: 10.0.0.0/8\n",
			wants: []want{{5, "http.trustedProxies", "expected a list"}},
		},
		{
			name:  "list where a mapping is expected",
			src:   base + "http: [127.0.0.1:5556]\n",
			wants: []want{{4, "http", "expected a mapping"}},
		},
		{
			name:  "not a boolean",
			src:   base + "clients:\n  - id: app\n    public: yes\n    secret: s\n    redirectURIs: [https://app.example.com/cb]\n",
			wants: []want{{6, "clients[0].public", "expected true or false"}},
		},
		{
			name:  "not an integer",
			src:   base + "storage:\n  postgres:\n    maxConns: many\n",
			wants: []want{{6, "storage.postgres.maxConns", `expected an integer, got "many"`}},
		},
		{
			name:  "integer out of range",
			src:   base + "storage:\n  postgres:\n    maxConns: 99999999999999999999\n",
			wants: []want{{6, "storage.postgres.maxConns", "out of range"}},
		},
		{
			name:  "duration without unit",
			src:   base + "tokens:\n  idToken: 600\n",
			wants: []want{{5, "tokens.idToken", "use a unit, e.g. 10m"}},
		},
		{
			name:  "duration in days",
			src:   base + "tokens:\n  refreshAbsolute: 30d\n",
			wants: []want{{5, "tokens.refreshAbsolute", "write 720h"}},
		},
		{
			name:  "duration nonsense",
			src:   base + "sso:\n  idleTimeout: soon\n",
			wants: []want{{5, "sso.idleTimeout", "not a duration"}},
		},
		{
			name:  "duration given a mapping",
			src:   base + "sso:\n  idleTimeout: {h: 1}\n",
			wants: []want{{5, "sso.idleTimeout", "expected a duration, e.g. 10m"}},
		},
		{
			name:  "merge keys refused",
			src:   base + "web: &w\n  title: A\nlogging:\n  <<: *w\n",
			wants: []want{{7, "logging", "merge keys (<<) are not supported"}},
		},
		{
			name:  "non-string key",
			src:   base + "web:\n  ? [a, b]\n  : x\n",
			wants: []want{{5, "web", "mapping keys must be strings"}},
		},
		{
			name:  "unset variable",
			src:   base + "web:\n  title: ${NOPE}\n",
			wants: []want{{5, "web.title", "environment variable NOPE is not set"}},
		},
		{
			name:  "unset variable on the right line of a literal block",
			src:   base + "web:\n  title: |\n    first\n    ${NOPE}\n",
			wants: []want{{7, "web.title", "NOPE is not set"}},
		},
		{
			name:  "malformed reference",
			src:   base + "web:\n  title: ${1X}\n",
			wants: []want{{5, "web.title", "invalid ${1X}"}},
		},
		{
			name:  "unterminated reference",
			src:   base + "web:\n  title: cost ${PRICE\n",
			wants: []want{{5, "web.title", "unterminated ${"}},
		},
		{
			name: "several problems in one pass, sorted by line",
			src:  base + "web:\n  titel: A\n  theme: ${NOPE}\ntokens:\n  idToken: 5\n",
			wants: []want{
				{5, "web.titel", "did you mean title?"},
				{6, "web.theme", "NOPE is not set"},
				{8, "tokens.idToken", "use a unit"},
			},
		},
		{
			name:  "unknown connector type with suggestion",
			src:   base + "connectors:\n  - id: corp\n    type: ldpa\n",
			wants: []want{{6, "connectors[0].type", `unknown connector type "ldpa" (did you mean ldap?)`}},
		},
		{
			name:  "unknown connector type lists the known ones",
			src:   base + "connectors:\n  - id: corp\n    type: saml\n",
			wants: []want{{6, "connectors[0].type", "known types: ldap, local"}},
		},
		{
			name: "connector config decoded strictly, then validated",
			src:  base + "connectors:\n  - id: corp\n    type: ldap\n    config:\n      hots: ldap.example.com\n",
			wants: []want{
				{7, "connectors[0].config.host", "required"},
				{8, "connectors[0].config.hots", "unknown key (did you mean host?)"},
			},
		},
		{
			name:  "permissive connector with no fields refuses every key",
			src:   base + "connectors:\n  - id: local\n    type: local\n    config:\n      anything: 1\n",
			wants: []want{{8, "connectors[0].config.anything", "unknown key"}},
		},
		{
			name:  "connector config type error",
			src:   base + "connectors:\n  - id: corp\n    type: ldap\n    config:\n      host: h\n      port: ldap\n",
			wants: []want{{9, "connectors[0].config.port", "expected an integer"}},
		},
		{
			name: "connector problems re-rooted with lines from the block",
			src: base + "connectors:\n  - id: local\n    type: local\n  - id: corp\n    type: ldap\n    config:\n" +
				"      host: ldap.example.com\n      groups:\n        - filter: (cn=a)\n        - name: b\n",
			wants: []want{{13, "connectors[1].config.groups[1].filter", "required"}},
		},
		{
			name:  "connector without config block still validated, at the item's line",
			src:   base + "connectors:\n  - id: corp\n    type: ldap\n",
			wants: []want{{5, "connectors[0].config.host", "required"}},
		},
		{
			name:  "connector config variables are expanded",
			src:   base + "connectors:\n  - id: corp\n    type: ldap\n    config:\n      host: ${LDAP_HOST}\n      bindPassword: ${NOPE}\n",
			env:   map[string]string{"LDAP_HOST": "ldap.example.com"},
			wants: []want{{9, "connectors[0].config.bindPassword", "NOPE is not set"}},
		},
		{
			name:  "top level not a mapping",
			src:   "- a\n- b\n",
			wants: []want{{1, "", "expected a mapping"}},
		},
		{
			name:  "syntax error keeps its line",
			src:   base + "web:\n  title: [unclosed\nlogging: {}\n",
			wants: []want{{5, "", "invalid YAML: did not find expected ',' or ']'"}},
		},
		{
			name:  "syntax error: stray list item",
			src:   base + "web:\n  title: A\n- b\n",
			wants: []want{{6, "", "invalid YAML: did not find expected key"}},
		},
		{
			name:  "syntax error: bad indentation",
			src:   base + "web: x\n  title: A\n",
			wants: []want{{5, "", "invalid YAML: mapping values are not allowed"}},
		},
		{
			name:  "syntax error: list item expected",
			src:   "- a\nb: c\n",
			wants: []want{{2, "", "invalid YAML: did not find expected '-' indicator"}},
		},
		{
			name:  "syntax error on line 1",
			src:   "issuer: [a",
			wants: []want{{1, "", "invalid YAML"}},
		},
		{
			name:  "second document",
			src:   base + "---\nissuer: https://b.example.com\n",
			wants: []want{{4, "", "only one YAML document"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkProblems(t, parseProblems(t, tt.src, tt.env), tt.wants)
		})
	}
}

func TestAliasesAreFollowed(t *testing.T) {
	t.Parallel()
	src := base + "x-uris: &uris [https://app.example.com/cb]\n"
	if ps := parseProblems(t, src, nil); len(ps) != 1 || ps[0].Path != "x-uris" {
		t.Fatalf("got %v, want only the unknown x-uris key", ps)
	}
	src = base + "clients:\n  - id: a\n    public: true\n    redirectURIs: &uris [https://app.example.com/cb]\n" +
		"  - id: b\n    public: true\n    redirectURIs: *uris\n"
	c, err := Parse([]byte(src), "foyer.yaml", nil, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Clients[1].RedirectURIs; len(got) != 1 || got[0] != "https://app.example.com/cb" {
		t.Errorf("alias decoded to %v", got)
	}
}

func TestAliasBombStops(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(base + "connectors:\n  - id: x\n    type: generic\n    config:\n      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("      a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	reg := Registry{Connectors: map[string]func() any{"generic": func() any { return &map[string]any{} }}}
	_, err := Parse([]byte(b.String()), "foyer.yaml", nil, reg)
	if err == nil || !strings.Contains(err.Error(), "nested aliases") {
		t.Fatalf("err = %v, want the node budget problem", err)
	}
}
