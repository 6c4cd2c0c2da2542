package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Parse decodes, fills in defaults and validates a configuration file.
// filename is only used in problems. env looks up ${VAR} references (nil
// means an empty environment); reg resolves connector types. When the file
// is wrong, Parse returns a nil Config and every problem as Problems.
func Parse(data []byte, filename string, env func(string) (string, bool), reg Registry) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	root, p := parseYAML(data, filename)
	if p != nil {
		return nil, Problems{*p}
	}
	d := &Decoder{File: filename, Env: env, Registry: reg}
	s := d.newState()
	c := &Config{file: filename, root: root}
	if root != nil {
		s.value(root, "", reflect.ValueOf(c).Elem(), root.Line)
	}
	if s.stopped {
		return nil, s.probs
	}
	c.SetDefaults()
	probs := append(s.probs, s.withoutBad(c.Validate())...)
	probs = append(probs, s.withoutBad(reg.checkHashes(c, root, filename))...)
	if len(probs) > 0 {
		sortProblems(probs)
		return nil, probs
	}
	return c, nil
}

// Load reads the file at path and parses it with the process environment.
// Problems name the file as path.
func Load(path string, reg Registry) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path, os.LookupEnv, reg)
}

// yamlErrLine matches the line yaml.v3 puts in its syntax errors.
var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses exactly one YAML document. It returns a nil node for an
// empty file.
func parseYAML(data []byte, filename string) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxProblem(err, filename, data)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxProblem(err, filename, data)
	default:
		return nil, &Problem{File: filename, Line: extra.Line, Msg: "only one YAML document is allowed (remove the second ---)"}
	}
	root := deref(&doc)
	if root == nil || isNull(root) {
		return nil, nil
	}
	return root, nil
}

// syntaxProblem turns a yaml.v3 syntax error into a Problem. yaml.v3 v3.0.1
// prints the 0-based line for parser (as opposed to scanner) errors and
// leaves the line out when it is 0; parserErrors recognises those so that
// the line can be made 1-based.
func syntaxProblem(err error, filename string, data []byte) *Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch {
	case parserErrors.MatchString(msg):
		line++
	case line == 0:
		line = unnumberedLine(msg, data)
	}
	// An error at the end of a file without a final newline is put on the
	// line after the last. Lines end as yaml.v3 counts them: at CR LF, CR,
	// LF, NEL, LS or PS.
	breaks := yamlBreak.FindAllIndex(data, -1)
	lines := len(breaks)
	if len(data) > 0 && (lines == 0 || breaks[lines-1][1] != len(data)) {
		lines++
	}
	line = min(line, lines)
	return &Problem{File: filename, Line: line, Msg: "invalid YAML: " + msg}
}

// parserErrors matches the messages of yaml.v3's parser errors.
var parserErrors = regexp.MustCompile(`^(did not find expected |found duplicate %|found incompatible YAML document|found undefined tag handle)`)

// yamlBreak matches a line break as yaml.v3 counts lines.
var yamlBreak = regexp.MustCompile("\r\n|[\r\n\u0085\u2028\u2029]")

// unknownAnchor matches yaml.v3's error for an alias without its anchor.
var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// unnumberedLine finds the line of a yaml.v3 error that names none. The
// reader's encoding errors carry no position: they are at the first
// character YAML does not allow. An unknown alias is at its first use.
// yaml.v3 leaves the line out of any other error on the first line.
func unnumberedLine(msg string, data []byte) int {
	at := -1
	switch {
	case strings.Contains(msg, "control characters") || strings.Contains(msg, "UTF-8"):
		at = firstUnreadable(data)
	case unknownAnchor.MatchString(msg):
		alias := "*" + unknownAnchor.FindStringSubmatch(msg)[1]
		if loc := regexp.MustCompile(regexp.QuoteMeta(alias) + `(?:[\s,\]}]|$)`).FindIndex(data); loc != nil {
			at = loc[0]
		}
	}
	if at < 0 {
		return 1
	}
	return 1 + bytes.Count(data[:at], []byte("\n"))
}

// firstUnreadable returns the offset of the first byte that is not valid
// UTF-8 or starts a character YAML 1.2 does not allow (§5.1), or -1.
func firstUnreadable(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return i
		case r == 0x09, r == 0x0A, r == 0x0D, r >= 0x20 && r <= 0x7E, r == 0x85,
			r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return i
		}
		i += size
	}
	return -1
}

// Defaults, documented in docs/config.md.
const (
	DefaultHTTPAddr   = "127.0.0.1:5556"
	DefaultSQLiteFile = "foyer.db"
	DefaultKeyPrefix  = "foyer:"
	DefaultTitle      = "Foyer"
)

// SetDefaults fills in every unset value with its default and normalises the
// issuer (no trailing slash). Parse calls it; it is idempotent.
func (c *Config) SetDefaults() {
	for len(c.Issuer) > 1 && c.Issuer[len(c.Issuer)-1] == '/' && !hasSuffixSchemeSep(c.Issuer) {
		c.Issuer = c.Issuer[:len(c.Issuer)-1]
	}
	setString(&c.HTTP.Addr, DefaultHTTPAddr)
	st := &c.Storage
	setString(&st.Type, StorageSQLite)
	if st.Type == StorageSQLite || st.SessionsType() == StorageSQLite {
		setString(&st.SQLite.File, DefaultSQLiteFile)
	}
	setInt(&st.Postgres.MaxConns, 10)
	setDuration(&st.Postgres.ConnMaxLifetime, 30*time.Minute)
	if st.Sessions != nil {
		setString(&st.Sessions.Redis.KeyPrefix, DefaultKeyPrefix)
		setDuration(&st.Sessions.Redis.WaitTimeout, 100*time.Millisecond)
	}
	if len(c.Keys.Algorithms) == 0 {
		c.Keys.Algorithms = []string{AlgRS256}
	}
	setDuration(&c.Keys.RotationPeriod, 6*time.Hour)
	t := &c.Tokens
	setDuration(&t.IDToken, 10*time.Minute)
	setDuration(&t.AccessToken, 10*time.Minute)
	setDuration(&t.RefreshIdle, 24*time.Hour)
	setDuration(&t.RefreshAbsolute, 720*time.Hour)
	if t.RefreshReuseGrace == nil {
		g := Duration(5 * time.Second)
		t.RefreshReuseGrace = &g
	}
	setDuration(&t.AuthCode, time.Minute)
	setDuration(&t.AuthRequest, 15*time.Minute)
	setDuration(&c.SSO.IdleTimeout, time.Hour)
	setDuration(&c.SSO.AbsoluteTimeout, 12*time.Hour)
	setString(&c.Web.Title, DefaultTitle)
	setString(&c.Logging.Format, "json")
	setString(&c.Logging.Level, "info")
	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.GrantTypes == nil {
			cl.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
		}
		if cl.RequirePKCE == nil {
			cl.RequirePKCE = boolPtr(true)
		}
	}
	for i := range c.Users {
		if c.Users[i].EmailVerified == nil {
			c.Users[i].EmailVerified = boolPtr(true)
		}
	}
	for i := range c.Connectors {
		setString(&c.Connectors[i].Name, c.Connectors[i].ID)
		setString(&c.Connectors[i].Signup, SignupAllow)
	}
}

// hasSuffixSchemeSep reports whether s ends in "://", which trimming must
// not eat into.
func hasSuffixSchemeSep(s string) bool { return len(s) >= 3 && s[len(s)-3:] == "://" }

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

func setDuration(p *Duration, def time.Duration) {
	if *p == 0 {
		*p = Duration(def)
	}
}

func boolPtr(b bool) *bool { return &b }

// Dev returns the ready, valid configuration of `foyer serve --dev`: issuer
// and listener on http://127.0.0.1:5556, SQLite and the key-encryption key in
// dir, text logs at debug level, and one "local" connector whose Config is
// left nil for the caller to fill. The caller adds the demo client and user.
func Dev(dir string) *Config {
	c := &Config{
		Issuer:  "http://127.0.0.1:5556",
		HTTP:    HTTP{Addr: "127.0.0.1:5556"},
		Storage: Storage{Type: StorageSQLite, SQLite: SQLite{File: filepath.Join(dir, "foyer-dev.db")}},
		Keys:    Keys{KEK: KEK{File: filepath.Join(dir, "foyer-dev.kek")}},
		Logging: Logging{Format: "text", Level: "debug"},
		Connectors: []Connector{{
			ID: "local", Type: "local", Name: "Email",
		}},
	}
	c.SetDefaults()
	return c
}
