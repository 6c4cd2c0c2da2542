package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fuzzSeeds are configuration files that reach every corner of the
// decoder: aliases, merge keys, block scalars, ${VAR}, wrong types,
// encoding errors, several documents.
var fuzzSeeds = []string{
	"",
	"issuer: https://id.example.com\nkeys:\n  kek: {env: FOYER_KEK}\n",
	"issuer: https://id.example.com/\nkeys: {kek: {file: /k}}\nclients:\n  - id: app\n    secret: ${APP_SECRET}\n    redirectURIs: [https://app.example.com/cb]\nconnectors:\n  - id: corp\n    type: ldap\n    config: {host: ldap.example.com, groups: [{filter: (cn=a)}]}\n",
	"issuer: ${ISSUER:-https://id.example.com}\nkeys: {kek: {env: K}}\nweb: {title: \"$$5 ${UNSET}\"}\n",
	"a: &a [x, *a]\n",
	"x: &x {y: 1}\nhttp:\n  <<: *x\n",
	"l0: &l0 [a, a, a, a, a, a, a, a, a]\nl1: &l1 [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]\nl2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\nconnectors: [{id: c, type: ldap, config: {groups: [*l2, *l2]}}]\n",
	"users:\n  - username: |\n      a\n      ${X\n",
	"tokens: {idToken: 1e400, accessToken: -5m, authCode: [1]}\nstorage: {postgres: {maxConns: 99999999999999999999}}\n",
	"\xef\xbb\xbfissuer: x\n",
	"issuer: \xff\n",
	"a: b\n\x00",
	"key: 'unterminated",
	"a: *nope\n",
	"a: b\n---\nc: d\n",
	"? [a]\n: b\n",
	"{issuer: x, issuer: y}\n",
	"connectors: [{type: ldap, config: &c {host: *c}}]\n",
	"connectors: [{id: g, type: generic, config: &c {a: [1, 2.5, true, null, !!binary aGk=, x], b: {c: *c}}}]\n",
	"clients: [{id: \"a b\", public: true, requirePKCE: false, redirectURIs: [\"http://*.example/cb#f\"]}]\n",
	"storage: {type: redis, sessions: {type: redis, redis: {addrs: [\"a:0\"], db: -1, tls: {caFile: x}}}}\n",
	"\t- a\n",
	"%YAML 1.3\n---\na: b\n",
	"!!binary a: b\n",
}

// fuzzRegistry is testRegistry with a connector type whose config block
// is decoded generically (map[string]any), as aliases expand there.
func fuzzRegistry() Registry {
	reg := testRegistry()
	reg.Connectors["generic"] = func() any { return &map[string]any{} }
	return reg
}

// lineBreak is where yaml.v3 ends a line: CR LF, CR, LF, NEL, LS or PS.
var lineBreak = regexp.MustCompile("\r\n|[\r\n\u0085\u2028\u2029]")

// FuzzParse: any file gives either a Config or Problems, never a panic,
// and every problem says where: a path or a line inside the file.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile(filepath.Join("testdata", "five-mistakes.yaml")); err == nil {
		f.Add(data)
	}
	env := envMap(map[string]string{"APP_SECRET": "s3cret", "FOYER_KEK": "k", "K": "k", "EMPTY": ""})
	reg := fuzzRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml", env, reg)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c != nil, err)
		}
		if err == nil {
			if again := c.Validate(); again != nil {
				t.Fatalf("a config Parse accepted does not validate again:\n%v", again)
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("Parse error %T is not a non-empty Problems: %v", err, err)
		}
		lines := len(lineBreak.FindAll(data, -1)) + 1
		for _, p := range ps {
			switch {
			case p.Msg == "":
				t.Fatalf("problem without a message: %#v", p)
			case p.File != "fuzz.yaml":
				t.Fatalf("problem names file %q: %v", p.File, p)
			case p.Line == 0 && p.Path == "":
				t.Fatalf("problem with neither a line nor a path: %q\nfile: %q", p.String(), data)
			case p.Line < 0 || p.Line > lines:
				t.Fatalf("problem on line %d of a %d-line file: %v", p.Line, lines, p)
			}
		}
		// Parsing is a pure function of its input.
		if _, again := Parse(data, "fuzz.yaml", env, reg); again == nil || again.Error() != err.Error() {
			t.Fatalf("two parses differ:\n%v\n---\n%v", err, again)
		}
	})
}

// TestSyntaxErrorLines: yaml.v3 names no line for encoding errors, unknown
// aliases and errors on the first line; Parse finds it.
func TestSyntaxErrorLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		line int
	}{
		{name: "control character", src: "a: b\nc: d\ne: \x01\n", line: 3},
		{name: "NUL at the end", src: "a: b\n\x00", line: 2},
		{name: "invalid UTF-8", src: "a: b\nissuer: \xff\n", line: 2},
		{name: "truncated UTF-8", src: "a: b\nc: d\nissuer: x\xe2\x82", line: 3},
		{name: "unknown alias", src: "a: '*nope'\nb: 2\nc: [*nope]\n", line: 3},
		{name: "unterminated quote on line 1", src: "key: 'x", line: 1},
		{name: "tab on line 1", src: "\t- a\n", line: 1},
		{name: "CR line ends", src: "a: b\rc: d\re: 'x", line: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := parseProblems(t, tt.src, nil)
			if len(ps) != 1 || ps[0].Line != tt.line || !strings.HasPrefix(ps[0].Msg, "invalid YAML: ") {
				t.Errorf("problems %v, want one invalid YAML problem on line %d", ps, tt.line)
			}
		})
	}
}

// TestAliasBomb: a small file whose aliases expand past the decoder's
// budget stops with one problem that says where.
func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("l0: &l0 [a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 8; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 8)+fmt.Sprintf("*l%d", i-1))
	}
	b.WriteString("connectors: [{id: g, type: generic, config: {groups: *l7}}]\n")
	_, err := Parse([]byte(b.String()), "foyer.yaml", nil, fuzzRegistry())
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse = %v, want Problems", err)
	}
	last := ps[len(ps)-1]
	if !strings.Contains(last.Msg, "nested aliases") || last.Line == 0 || !strings.HasPrefix(last.Path, "connectors[0].config.groups[") {
		t.Errorf("last problem %q, want the node budget problem with its line and path", last)
	}
}

// TestAliasCycle: an alias inside the value its anchor names is refused
// where it stands; decoding it would never end.
func TestAliasCycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		path string
		line int
	}{
		{name: "generic mapping", src: "connectors:\n  - id: g\n    type: generic\n    config: &c\n      b: {c: *c}\n", path: "connectors[0].config.b.c", line: 5},
		{name: "generic sequence", src: "connectors:\n  - id: g\n    type: generic\n    config: &c\n      b:\n        - [x, *c]\n", path: "connectors[0].config.b[0][1]", line: 6},
		{name: "through the connector list", src: "connectors: &k\n  - id: g\n    type: generic\n    config: {a: *k}\n", path: "connectors[0].config.a", line: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.src), "foyer.yaml", nil, fuzzRegistry())
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse = %v, want Problems", err)
			}
			for _, p := range ps {
				if p.Path == tt.path && p.Line == tt.line && strings.Contains(p.Msg, "contains it") {
					return
				}
			}
			t.Errorf("problems:\n%v\nwant one at %d: %s about the alias", ps, tt.line, tt.path)
		})
	}
	// A yaml.Unmarshaler gets a copy of its node, made without looping.
	var u unmarshalerConfig
	ps := new(Decoder).Decode(mustNode(t, "&c {url: x, self: *c}\n"), "custom", &u)
	if len(ps) != 1 || ps[0].Path != "custom.self" || !strings.Contains(ps[0].Msg, "contains it") {
		t.Errorf("unmarshaler problems: %v", ps)
	}
}
