package gateway

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
)

//go:embed templates static
var embedded embed.FS

// pageNames are the templates a theme may override, each rendered inside
// layout.html.
var pageNames = []string{"error", "chooser", "login", "consent", "formpost", "demo", "logout", "loggedout", "select", "account", "device", "deviceconfirm", "message"}

// overlayFS serves a file from the theme directory when it has one, else the
// embedded default.
type overlayFS struct {
	theme fs.FS // nil without a theme
	base  fs.FS
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if o.theme != nil {
		f, err := o.theme.Open(name)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return o.base.Open(name)
}

// pages holds the parsed templates and the static file server.
type pages struct {
	tmpl   map[string]*template.Template
	static http.Handler
}

func loadPages(themeDir string) (*pages, error) {
	o := overlayFS{base: embedded}
	if themeDir != "" {
		if st, err := os.Stat(themeDir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("gateway: theme directory %q is not a directory", themeDir)
		}
		o.theme = os.DirFS(themeDir)
	}
	p := &pages{tmpl: make(map[string]*template.Template)}
	for _, name := range pageNames {
		t, err := template.New("layout.html").ParseFS(o, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("gateway: template %s: %w", name, err)
		}
		p.tmpl[name] = t
	}
	staticFS, err := fs.Sub(o, "static")
	if err != nil {
		return nil, fmt.Errorf("gateway: static files: %w", err)
	}
	fileServer := http.FileServer(http.FS(staticFS))
	p.static = http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No directory listings, and no name a file system may refuse
		// with an error other than "not found" (a NUL, say, which the
		// file server would answer with a 500).
		if name := r.URL.Path; !fs.ValidPath(name) || name == "." || strings.ContainsAny(name, "\x00\\") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	return p, nil
}

// pageData is what every page template sees.
type pageData struct {
	Base    string // the issuer's path ("" or "/prefix"), for links and forms
	Title   string // the site title (web.title)
	Heading string
	Page    any
}

// render writes a page; a template failure becomes a plain 500 (logged).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, heading string, page any) {
	t := s.pages.tmpl[name]
	var buf bytes.Buffer
	if err := t.Execute(&buf, pageData{Base: s.basePath(), Title: s.title, Heading: heading, Page: page}); err != nil {
		s.logger.ErrorContext(r.Context(), "render page", "page", name, "request_id", requestID(r.Context()), "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage is the error template's data.
type errorPage struct {
	Message   string
	RequestID string
	Back      string // a same-origin path, or ""
	BackLabel string
}

// renderError shows a readable error page. Details belong in the log.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	s.renderErrorBack(w, r, status, heading, msg, "", "")
}

// renderErrorBack is renderError with a link back (checked to be a
// same-origin path).
func (s *Server) renderErrorBack(w http.ResponseWriter, r *http.Request, status int, heading, msg, back, label string) {
	if !isLocalPath(back) {
		back = ""
	}
	if label == "" {
		label = "Try again"
	}
	s.render(w, r, status, "error", heading, errorPage{Message: msg, RequestID: requestID(r.Context()), Back: back, BackLabel: label})
}

// isLocalPath reports whether p is a path on this origin: it starts with a
// single "/", and no browser would read it as another host ("//", "/\").
func isLocalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	if strings.ContainsAny(p, "\r\n\t\x00") {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

// withFormAction widens form-action to the origin of target, for pages
// whose form, or the redirect after it, goes to a client.
func withFormAction(w http.ResponseWriter, target string) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return
	}
	origin := u.Scheme + "://" + u.Host
	if strings.ContainsAny(origin, " ;,'\"") {
		return
	}
	w.Header().Set("Content-Security-Policy", strings.Replace(defaultCSP, "form-action 'self'", "form-action 'self' "+origin, 1))
}

// basePath is the issuer's path without a trailing slash: "" at the root.
func (s *Server) basePath() string { return strings.TrimSuffix(s.issuerURL.EscapedPath(), "/") }
