package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/local"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
)

// Helpers that drive the browser flow over real HTTP and read the pages the
// way a browser would: by their forms and links, never by their wording.

const (
	testPassword  = "correct horse battery staple"
	defaultScopes = "openid email profile groups offline_access"
)

// with returns the harness reporting to t (a subtest's), sharing the
// server, store and clock.
func (h *harness) with(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// noPKCE are authorization parameters that drop PKCE.
func noPKCE() url.Values { return url.Values{"code_challenge": {""}, "code_challenge_method": {""}} }

// withLocalConnector adds another instance of the local connector, so the
// chooser has more than one entry.
func withLocalConnector(t *testing.T, id, name string) harnessOption {
	return func(o *Options) {
		lc, err := local.Open(local.Config{}, connectors.Env{ID: id, Users: o.Directory, Logger: o.Logger})
		if err != nil {
			t.Fatal(err)
		}
		o.Connectors = append(o.Connectors, Connector{ID: id, Type: "local", Name: name, Impl: lc, Policy: identity.Policy{Signup: true}})
	}
}

// rp is a registered relying party as the tests see it.
type rp struct {
	storage.Client
	secret   string // "" for public clients
	redirect string // the first registered redirect URI
}

// addRP registers a client with one redirect URI
// (https://<id>.rp.example/cb) and lets mods adjust it. Confidential
// clients get the secret "secret-<id>".
func (h *harness) addRP(id string, public bool, mods ...func(*storage.Client)) rp {
	h.t.Helper()
	c := storage.Client{ID: id, Name: "App " + id, RedirectURIs: []string{"https://" + id + ".rp.example/cb"}}
	for _, m := range mods {
		m(&c)
	}
	secret := ""
	if !public {
		secret = "secret-" + id
	}
	c = h.addClient(c, secret)
	return rp{Client: c, secret: secret, redirect: c.RedirectURIs[0]}
}

func skipConsent(c *storage.Client) { c.SkipConsent = true }

// resp is one HTTP exchange, read in full.
type resp struct {
	Status int
	Header http.Header
	Body   string
	URL    *url.URL // what was requested
}

// location returns the resolved Location header, or nil.
func (r resp) location() *url.URL {
	l := r.Header.Get("Location")
	if l == "" {
		return nil
	}
	u, err := r.URL.Parse(l)
	if err != nil {
		return nil
	}
	return u
}

// do sends one request with browser b; form, if not nil, is posted.
func (h *harness) do(b *http.Client, method, target string, form url.Values) resp {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, target, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return h.send(b, req)
}

func (h *harness) send(b *http.Client, req *http.Request) resp {
	h.t.Helper()
	res, err := b.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: string(data), URL: req.URL}
}

// onIssuer reports whether u is served by this Foyer.
func (h *harness) onIssuer(u *url.URL) bool {
	iss, err := url.Parse(h.issuer)
	return err == nil && u.Scheme == iss.Scheme && u.Host == iss.Host && strings.HasPrefix(u.Path, iss.Path+"/")
}

// route is the path of u below the issuer's path ("/login", "/consent").
func (h *harness) route(u *url.URL) string {
	iss, err := url.Parse(h.issuer)
	if err != nil {
		return u.Path
	}
	return strings.TrimPrefix(u.Path, iss.Path)
}

// follow GETs target and follows redirects while they stay on Foyer. It
// returns the first page, or the redirect that leaves Foyer (the
// authorization response).
func (h *harness) follow(b *http.Client, target string) resp {
	h.t.Helper()
	return h.followFrom(b, h.do(b, http.MethodGet, target, nil))
}

func (h *harness) followFrom(b *http.Client, r resp) resp {
	h.t.Helper()
	for range 10 {
		loc := r.location()
		if loc == nil || r.Status < 300 || r.Status > 399 || !h.onIssuer(loc) {
			return r
		}
		r = h.do(b, http.MethodGet, loc.String(), nil)
	}
	h.t.Fatalf("too many redirects, last %s", r.URL)
	return r
}

// Page kinds, told apart by where the browser ended up.
const (
	kindChooser  = "chooser"
	kindLogin    = "login"
	kindConsent  = "consent"
	kindRedirect = "redirect" // an authorization response by redirect
	kindFormPost = "form_post"
	kindOther    = "other" // an error page, most likely
)

func (h *harness) kind(r resp) string {
	if loc := r.location(); loc != nil && r.Status >= 300 && r.Status < 400 && !h.onIssuer(loc) {
		return kindRedirect
	}
	if r.Status != http.StatusOK {
		return kindOther
	}
	p := h.route(r.URL)
	switch {
	case strings.Contains(r.Body, `id="formpost"`):
		return kindFormPost
	case p == "/login":
		return kindChooser
	case strings.HasPrefix(p, "/login/") && formField(r.Body, "password"):
		return kindLogin
	case p == "/consent":
		return kindConsent
	}
	return kindOther
}

// wantKind fails the test unless r is a page of kind k.
func (h *harness) wantKind(r resp, k string) {
	h.t.Helper()
	if got := h.kind(r); got != k {
		h.t.Fatalf("%s: got a %s (status %d, Location %q), want a %s", r.URL.Path, got, r.Status, r.Header.Get("Location"), k)
	}
}

var (
	formRE   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE  = regexp.MustCompile(`(?is)<(?:input|button)\b([^>]*)>`)
	attrRE   = regexp.MustCompile(`(?s)([a-zA-Z-]+)="([^"]*)"`)
	anchorRE = regexp.MustCompile(`(?is)<a\b([^>]*)>`)
	alertRE  = regexp.MustCompile(`(?is)<p class="error" role="alert"[^>]*>(.*?)</p>`)
	h1RE     = regexp.MustCompile(`(?is)<h1>(.*?)</h1>`)
)

func attrs(tag string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2])
	}
	return out
}

// htmlForm is the first form of a page: its action and hidden fields.
type htmlForm struct {
	Action string
	Fields url.Values
}

func parseForm(t *testing.T, body string) htmlForm {
	t.Helper()
	m := formRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form in page:\n%s", body)
	}
	f := htmlForm{Action: attrs(m[1])["action"], Fields: url.Values{}}
	for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
		a := attrs(in[1])
		if a["type"] == "hidden" && a["name"] != "" {
			f.Fields.Set(a["name"], a["value"])
		}
	}
	return f
}

// formField reports whether the page has an input named name.
func formField(body, name string) bool {
	for _, in := range inputRE.FindAllStringSubmatch(body, -1) {
		if attrs(in[1])["name"] == name {
			return true
		}
	}
	return false
}

// links returns the hrefs of a page's anchors.
func links(body string) []string {
	var out []string
	for _, m := range anchorRE.FindAllStringSubmatch(body, -1) {
		if href, ok := attrs(m[1])["href"]; ok {
			out = append(out, href)
		}
	}
	return out
}

// alertText is the login form's error message ("" if none).
func alertText(body string) string {
	if m := alertRE.FindStringSubmatch(body); m != nil {
		return strings.TrimSpace(html.UnescapeString(m[1]))
	}
	return ""
}

// heading is a page's <h1>.
func heading(body string) string {
	if m := h1RE.FindStringSubmatch(body); m != nil {
		return strings.TrimSpace(html.UnescapeString(m[1]))
	}
	return ""
}

// choose follows the chooser's link to a connector.
func (h *harness) choose(b *http.Client, chooser resp, connID string) resp {
	h.t.Helper()
	h.wantKind(chooser, kindChooser)
	for _, l := range links(chooser.Body) {
		u, err := chooser.URL.Parse(l)
		if err == nil && h.route(u) == "/login/"+connID {
			return h.follow(b, u.String())
		}
	}
	h.t.Fatalf("chooser has no link to %q: %v", connID, links(chooser.Body))
	return resp{}
}

// submitLogin fills in and posts a login form.
func (h *harness) submitLogin(b *http.Client, page resp, username, password string) resp {
	h.t.Helper()
	if !formField(page.Body, "password") {
		h.wantKind(page, kindLogin) // fails, describing the page
	}
	f := parseForm(h.t, page.Body)
	f.Fields.Set("username", username)
	f.Fields.Set("password", password)
	return h.followFrom(b, h.postForm(b, page, f))
}

// submitConsent answers a consent page with decision ("allow" or "deny").
func (h *harness) submitConsent(b *http.Client, page resp, decision string) resp {
	h.t.Helper()
	h.wantKind(page, kindConsent)
	f := parseForm(h.t, page.Body)
	f.Fields.Set("decision", decision)
	return h.followFrom(b, h.postForm(b, page, f))
}

func (h *harness) postForm(b *http.Client, page resp, f htmlForm) resp {
	h.t.Helper()
	action, err := page.URL.Parse(f.Action)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(b, http.MethodPost, action.String(), f.Fields)
}

// authorizeURL is the authorization endpoint with params.
func (h *harness) authorizeURL(params url.Values) string {
	return h.issuer + "/authorize?" + params.Encode()
}

// pkcePair returns a verifier and its S256 challenge.
func pkcePair() (verifier, challenge string) {
	verifier = storage.NewSecret() + "-pkce"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams are a well-formed authorization request for c with PKCE; the
// verifier is returned beside them. extra overrides or adds parameters (an
// empty value deletes one).
func authParams(c rp, extra url.Values) (url.Values, string) {
	verifier, challenge := pkcePair()
	v := url.Values{
		"client_id":             {c.ID},
		"redirect_uri":          {c.redirect},
		"response_type":         {"code"},
		"scope":                 {defaultScopes},
		"state":                 {"st-" + storage.NewID()},
		"nonce":                 {"n-" + storage.NewID()},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	for k, vals := range extra {
		if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
			v.Del(k)
			continue
		}
		v[k] = vals
	}
	if v.Get("code_challenge") != challenge {
		verifier = "" // the caller dropped or replaced PKCE
	}
	return v, verifier
}

// authzResponse checks that r is an authorization response to redirectURI
// carrying iss (RFC 9207) and returns its parameters.
func (h *harness) authzResponse(r resp, redirectURI string) url.Values {
	h.t.Helper()
	h.wantKind(r, kindRedirect)
	loc := r.location()
	base := *loc
	base.RawQuery = ""
	if base.String() != redirectURI {
		h.t.Fatalf("redirected to %s, want %s", base.String(), redirectURI)
	}
	q := loc.Query()
	if got := q.Get("iss"); got != h.issuer {
		h.t.Errorf("authorization response iss = %q, want %q", got, h.issuer)
	}
	return q
}

// wantAuthzError checks an error authorization response.
func (h *harness) wantAuthzError(r resp, redirectURI, code, state string) {
	h.t.Helper()
	q := h.authzResponse(r, redirectURI)
	if got := q.Get("error"); got != code {
		h.t.Errorf("error = %q (%s), want %q", got, q.Get("error_description"), code)
	}
	if q.Has("code") {
		h.t.Errorf("error response carries a code")
	}
	if got := q.Get("state"); got != state {
		h.t.Errorf("state = %q, want %q", got, state)
	}
}

// wantErrorPage checks that r is a page with status, and no redirect.
func (h *harness) wantErrorPage(r resp, status int) {
	h.t.Helper()
	if r.Status != status {
		h.t.Errorf("%s: status %d, want %d", r.URL.Path, r.Status, status)
	}
	if loc := r.Header.Get("Location"); loc != "" {
		h.t.Errorf("%s: redirected to %q, want a page", r.URL.Path, loc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		h.t.Errorf("%s: Content-Type %q, want an HTML page", r.URL.Path, ct)
	}
}

// login runs the interactive flow for c with browser b as username, allowing
// consent if asked, and returns the code and the PKCE verifier.
func (h *harness) login(b *http.Client, c rp, username string, extra url.Values) (code, verifier string) {
	h.t.Helper()
	params, verifier := authParams(c, extra)
	r := h.follow(b, h.authorizeURL(params))
	if h.kind(r) == kindChooser {
		r = h.choose(b, r, "local")
	}
	if h.kind(r) == kindLogin {
		r = h.submitLogin(b, r, username, testPassword)
	}
	if h.kind(r) == kindConsent {
		r = h.submitConsent(b, r, "allow")
	}
	q := h.authzResponse(r, params.Get("redirect_uri"))
	if q.Get("code") == "" {
		h.t.Fatalf("no code: error %q (%s)", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != params.Get("state") {
		h.t.Fatalf("state = %q, want %q", q.Get("state"), params.Get("state"))
	}
	return q.Get("code"), verifier
}

// cookie returns the value of a cookie the browser holds for Foyer.
func (h *harness) cookie(b *http.Client, name string) string {
	h.t.Helper()
	u, _ := url.Parse(h.issuer + "/")
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
