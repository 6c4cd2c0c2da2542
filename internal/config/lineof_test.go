package config

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestLineOf(t *testing.T) {
	t.Parallel()
	const src = `host: ldap.example.com
groups:
  - filter: (cn=a)
    name: a
  - name: b
nested:
  deep:
    list: [x, y]
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want int
	}{
		{"root", "", 1},
		{"key", "host", 1},
		{"block value is its key's line", "groups", 2},
		{"list item", "groups[1]", 5},
		{"key in item", "groups[0].name", 4},
		{"missing key uses the parent", "groups[1].filter", 5},
		{"missing index uses the parent", "groups[7].filter", 2},
		{"deep", "nested.deep.list[1]", 8},
		{"missing top-level key uses the root", "issuer", 1},
		{"key below a scalar", "host.port", 1},
		{"index into a mapping", "nested[0]", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := LineOf(&doc, tt.path); got != tt.want {
				t.Errorf("LineOf(%q) = %d, want %d", tt.path, got, tt.want)
			}
		})
	}
	if got := LineOf(nil, "a.b"); got != 0 {
		t.Errorf("LineOf(nil) = %d, want 0", got)
	}
}

func TestSplitPath(t *testing.T) {
	t.Parallel()
	got := splitPath("connectors[2].config.groups[10].filter")
	want := []pathSeg{{"connectors", -1}, {index: 2}, {"config", -1}, {"groups", -1}, {index: 10}, {"filter", -1}}
	if len(got) != len(want) {
		t.Fatalf("splitPath = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("splitPath = %v, want %v", got, want)
		}
	}
}
