package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// localConfig is a permissive connector config: no fields, so any key in
// its block is a problem.
type localConfig struct{}

// ldapConfig is a connector config with fields and its own checks, for the
// registry and re-rooting tests.
type ldapConfig struct {
	Host         string      `yaml:"host"`
	Port         int         `yaml:"port"`
	BindPassword Secret      `yaml:"bindPassword"`
	Groups       []ldapGroup `yaml:"groups"`
}

type ldapGroup struct {
	Filter string `yaml:"filter"`
	Name   string `yaml:"name"`
}

func (c *ldapConfig) Validate() []Problem {
	var ps []Problem
	if c.Host == "" {
		ps = append(ps, Problem{Path: "host", Msg: "required"})
	}
	for i, g := range c.Groups {
		if g.Filter == "" {
			ps = append(ps, Problem{Path: fmt.Sprintf("groups[%d].filter", i), Msg: "required"})
		}
	}
	return ps
}

func testRegistry() Registry {
	return Registry{Connectors: map[string]func() any{
		"local": func() any { return &localConfig{} },
		"ldap":  func() any { return &ldapConfig{Port: 389} },
	}}
}

// envMap returns an env lookup over m.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// want is an expected problem: the line and path exactly, the message by a
// fragment.
type want struct {
	line int
	path string
	msg  string
}

func (w want) String() string { return fmt.Sprintf("%d: %s: ...%s...", w.line, w.path, w.msg) }

// parseProblems parses src and returns its problems (nil when it is valid).
func parseProblems(t *testing.T, src string, env map[string]string) Problems {
	t.Helper()
	_, err := Parse([]byte(src), "foyer.yaml", envMap(env), testRegistry())
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error is %T (%v), want Problems", err, err)
	}
	return ps
}

// checkProblems asserts that got holds exactly the wanted problems, in order.
func checkProblems(t *testing.T, got Problems, wants []want) {
	t.Helper()
	ok := len(got) == len(wants)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], wants[i]
		ok = g.Line == w.line && g.Path == w.path && strings.Contains(g.Msg, w.msg) && g.File == "foyer.yaml"
	}
	if !ok {
		t.Errorf("problems:\n%v\nwant:\n%v", got, wants)
	}
}
