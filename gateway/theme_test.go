package gateway

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foyerid/foyer/connectors"
)

// A theme directory overrides any template or static file; the rest stay
// the built-in ones.
func TestThemeOverrides(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "templates"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "static"), 0o755))
	login, err := os.ReadFile("templates/login.html")
	must(err)
	themed := strings.Replace(string(login), "<h1>{{.Heading}}</h1>", "<h1>{{.Heading}}</h1><p class=\"themed\">Acme Corp sign-in</p>", 1)
	must(os.WriteFile(filepath.Join(dir, "templates", "login.html"), []byte(themed), 0o644))
	must(os.WriteFile(filepath.Join(dir, "static", "foyer.css"), []byte("body { background: rebeccapurple; }\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "static", "logo.svg"), []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), 0o644))

	h := newHarness(t, func(o *Options) { o.Theme = dir; o.Title = "Acme" })
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	page := h.startLogin(h.browser(), c, nil)
	if !strings.Contains(page.Body, "Acme Corp sign-in") || !strings.Contains(page.Body, "<title>Log in · Acme</title>") {
		t.Fatalf("themed login page not used:\n%s", page.Body)
	}
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(h.issuer + path)
		must(err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return string(b)
	}
	if css := get("/static/foyer.css"); !strings.Contains(css, "rebeccapurple") {
		t.Errorf("themed CSS not served: %q", css)
	}
	get("/static/logo.svg")
	if js := get("/static/formpost.js"); !strings.Contains(js, "submit") {
		t.Error("built-in static file not served beside the theme")
	}
	// Pages the theme does not override are the built-in ones.
	r := h.do(h.browser(), http.MethodGet, h.issuer+"/no-such-page", nil)
	if r.Status != http.StatusNotFound || !strings.Contains(r.Body, "Page not found") {
		t.Fatalf("built-in error page: %d", r.Status)
	}
	// No directory listing, no escape from the static root.
	for _, p := range []string{"/static/", "/static/../templates/login.html", "/static/%2e%2e/templates/login.html"} {
		if r := h.do(h.browser(), http.MethodGet, h.issuer+p, nil); r.Status == http.StatusOK {
			t.Errorf("GET %s: 200", p)
		}
	}
}

// A theme directory that does not exist, or a broken template in it, is a
// start-up error, not a broken page later.
func TestThemeErrors(t *testing.T) {
	if _, err := loadPages(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing theme directory was accepted")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "consent.html"), []byte("{{define \"content\"}}{{.Nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadPages(dir); err == nil || !strings.Contains(err.Error(), "consent") {
		t.Errorf("a broken theme template was accepted: %v", err)
	}
}

// metadataConnector is a callback connector that publishes a document.
type metadataConnector struct{ fakeUpstream }

func (*metadataConnector) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = io.WriteString(w, "<EntityDescriptor/>")
	})
}

var _ connectors.MetadataConnector = (*metadataConnector)(nil)

func TestConnectorMetadataRoute(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Connectors = append(o.Connectors, Connector{ID: "corp", Type: "saml", Name: "Corp", Impl: &metadataConnector{}})
	})
	r := h.do(h.browser(), http.MethodGet, h.issuer+"/saml/corp/metadata", nil)
	if r.Status != http.StatusOK || r.Body != "<EntityDescriptor/>" {
		t.Fatalf("metadata: %d %q", r.Status, r.Body)
	}
	// Connectors without metadata, and unknown ones, have none.
	for _, id := range []string{"local", "nope"} {
		if r := h.do(h.browser(), http.MethodGet, h.issuer+"/saml/"+id+"/metadata", nil); r.Status != http.StatusNotFound {
			t.Errorf("/saml/%s/metadata: %d, want 404", id, r.Status)
		}
	}
}
