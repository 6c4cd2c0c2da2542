package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func mustNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

// TestResolve is the admin API's use: decode one connector config block,
// strictly, and get its problems rooted where the API wants them.
func TestResolve(t *testing.T) {
	t.Parallel()
	node := mustNode(t, "host: ldap.example.com\nport: 636\ngroups:\n  - filter: (cn=a)\n  - name: b\nhots: x\n")
	d := &Decoder{File: "request"}
	v, ps := d.Resolve(node, "config", testRegistry().Connectors["ldap"])
	cfg, ok := v.(*ldapConfig)
	if !ok || cfg.Host != "ldap.example.com" || cfg.Port != 636 {
		t.Fatalf("Resolve value = %#v", v)
	}
	want := "request:5: config.groups[1].filter: required\nrequest:6: config.hots: unknown key (did you mean host?)"
	if ps.Error() != want {
		t.Errorf("problems:\n%v\nwant:\n%s", ps, want)
	}

	v, ps = d.Resolve(mustNode(t, "host: h\n"), "config", testRegistry().Connectors["ldap"])
	if ps != nil || v.(*ldapConfig).Port != 389 {
		t.Errorf("constructor defaults lost or problems: %v %v", v, ps)
	}

	// A decode failure suppresses the block's own problem at the same path.
	_, ps = d.Resolve(mustNode(t, "host: [a]\n"), "config", testRegistry().Connectors["ldap"])
	if len(ps) != 1 || ps[0].Msg != "expected a string" {
		t.Errorf("problems = %v", ps)
	}

	for _, bad := range []func() any{nil, func() any { return nil }, func() any { return ldapConfig{} }} {
		if v, ps := d.Resolve(node, "config", bad); v != nil || len(ps) != 1 {
			t.Errorf("bad constructor: %v, %v", v, ps)
		}
	}
}

// TestDecoderNoEnv: a zero Decoder leaves ${VAR} as written.
func TestDecoderNoEnv(t *testing.T) {
	t.Parallel()
	var w Web
	if ps := new(Decoder).Decode(mustNode(t, "title: ${X}\n"), "web", &w); ps != nil || w.Title != "${X}" {
		t.Errorf("Decode = %q, %v", w.Title, ps)
	}
	if ps := new(Decoder).Decode(mustNode(t, "a: 1"), "", w); len(ps) != 1 {
		t.Errorf("decoding into a non-pointer: %v", ps)
	}
}

type unmarshalerConfig struct {
	got string
}

func (u *unmarshalerConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return errors.New("want a mapping")
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	u.got = m["url"]
	return nil
}

type richConfig struct {
	Embedded  `yaml:",inline"`
	Prefix    netip.Prefix      `yaml:"prefix"`
	Labels    map[string]string `yaml:"labels"`
	Extra     any               `yaml:"extra"`
	Ratio     float64           `yaml:"ratio"`
	Count     uint8             `yaml:"count"`
	Raw       yaml.Node         `yaml:"raw"`
	Custom    unmarshalerConfig `yaml:"custom"`
	NoTag     string
	Skipped   string `yaml:"-"`
	unexposed string
}

type Embedded struct {
	Base string `yaml:"base"`
}

func TestDecodeKinds(t *testing.T) {
	t.Parallel()
	src := `base: b
prefix: 10.0.0.0/8
labels: {a: "${A}", b: x}
extra: {list: [1, two, 3.5, true, null, "${A}"]}
ratio: 0.5
count: 7
raw: {anything: [goes]}
custom: {url: "${A}"}
notag: n
`
	d := &Decoder{Env: envMap(map[string]string{"A": "alpha"})}
	var c richConfig
	if ps := d.Decode(mustNode(t, src), "", &c); ps != nil {
		t.Fatalf("problems: %v", ps)
	}
	extra := c.Extra.(map[string]any)["list"].([]any)
	switch {
	case c.Base != "b", c.Prefix.String() != "10.0.0.0/8", c.Labels["a"] != "alpha", c.Ratio != 0.5, c.Count != 7, c.NoTag != "n":
		t.Errorf("decoded %+v", c)
	case len(extra) != 6 || extra[0] != 1 || extra[1] != "two" || extra[2] != 3.5 || extra[3] != true || extra[4] != nil || extra[5] != "alpha":
		t.Errorf("generic list = %#v", extra)
	case c.Raw.Kind != yaml.MappingNode:
		t.Errorf("raw node kind %v", c.Raw.Kind)
	case c.Custom.got != "alpha":
		t.Errorf("yaml.Unmarshaler got %q, want the expanded value", c.Custom.got)
	}

	bad := `prefix: nonsense
labels: {a: 1, a: 2}
extra: {k: "${NOPE}"}
count: -1
custom: [x]
skipped: s
unexposed: u
`
	ps := d.Decode(mustNode(t, bad), "x", &c)
	if c.unexposed != "" {
		t.Errorf("unexported field set to %q", c.unexposed)
	}
	got := ps.Error()
	for _, frag := range []string{
		"1: x.prefix: netip.ParsePrefix",
		"2: x.labels.a: duplicate key (first at line 2)",
		"3: x.extra.k: environment variable NOPE is not set",
		`4: x.count: expected a non-negative integer, got "-1"`,
		"5: x.custom: want a mapping",
		"6: x.skipped: unknown key",
		"7: x.unexposed: unknown key",
	} {
		if !strings.Contains(got, frag) {
			t.Errorf("problems lack %q:\n%s", frag, got)
		}
	}
}
