package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestFiveMistakes prints a file with five mistakes exactly as
// `foyer config check` would.
func TestFiveMistakes(t *testing.T) {
	t.Parallel()
	const name = "testdata/five-mistakes.yaml"
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(data, "foyer.yaml", envMap(nil), testRegistry())
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error = %v, want Problems", err)
	}
	if len(ps) != 5 {
		t.Errorf("got %d problems, want 5", len(ps))
	}
	got := ps.Error() + "\n"
	golden := "testdata/five-mistakes.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

// TestDeployExamples parses every deploy/examples/*.yaml with a registry
// holding a permissive local connector and expects no problems.
func TestDeployExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d example files, want at least 3", len(files))
	}
	env := map[string]string{
		"EXAMPLE_APP_SECRET":     "example-app-secret",
		"INTRANET_CLIENT_SECRET": "intranet-secret",
		"PORTAL_CLIENT_SECRET":   "portal-secret",
		"FOYER_PG_URL":           "postgres://foyer:pw@db.internal:5432/foyer?sslmode=verify-full",
		"REDIS_PASSWORD":         "redis-password",
	}
	// The connector types' own configs are checked where the types live
	// (cmd/foyer's TestConfigCheckExamples); here any block is accepted.
	reg := Registry{Connectors: map[string]func() any{"local": func() any { return &localConfig{} }}}
	for _, typ := range []string{"ldap", "saml", "oidc", "github"} {
		reg.Connectors[typ] = func() any { return &map[string]any{} }
	}
	ref := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(data), -1) {
			if _, ok := env[m[1]]; !ok {
				env[m[1]] = "value-for-" + strings.ToLower(m[1])
			}
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(data, filepath.Base(f), envMap(env), reg)
			if err != nil {
				t.Fatalf("problems:\n%v", err)
			}
			if c.Issuer == "" || len(c.Clients) == 0 {
				t.Errorf("example has no issuer or clients")
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("FOYER_TEST_EXAMPLE_SECRET", "s3cret")
	dir := t.TempDir()
	path := filepath.Join(dir, "foyer.yaml")
	src := base + "clients:\n  - id: a\n    secret: ${FOYER_TEST_EXAMPLE_SECRET}\n    redirectURIs: [https://a.example.com/cb]\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if c.Clients[0].Secret.Reveal() != "s3cret" {
		t.Errorf("secret from the environment not expanded")
	}

	if err := os.WriteFile(path, []byte("issuer: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, testRegistry())
	var ps Problems
	if !errors.As(err, &ps) || len(ps) == 0 || ps[0].File != path {
		t.Errorf("Load of a wrong file: %v", err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"), testRegistry())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want os.ErrNotExist", err)
	}
}

func TestEmptyFile(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"", "# only a comment\n", "---\n", "~\n"} {
		ps := parseProblems(t, src, nil)
		if len(ps) != 2 || ps[0].Path != "issuer" || ps[1].Path != "keys.kek" {
			t.Errorf("%q: problems:\n%v", src, ps)
		}
	}
}

// TestDocExample keeps the five-mistakes example in docs/config.md true.
func TestDocExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "A file with five mistakes:\n\n```yaml\n")
	src, rest, ok2 := strings.Cut(rest, "```\n")
	_, rest, ok3 := strings.Cut(rest, "```\n")
	want, _, ok4 := strings.Cut(rest, "```\n")
	if !ok || !ok2 || !ok3 || !ok4 {
		t.Fatal("docs/config.md: five-mistakes example not found")
	}
	_, err = Parse([]byte(src), "foyer.yaml", nil, testRegistry())
	if err == nil || err.Error()+"\n" != want {
		t.Errorf("docs/config.md example prints:\n%v\nbut the doc says:\n%s", err, want)
	}
}
