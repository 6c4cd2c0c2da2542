package saml_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/saml"
	"github.com/foyerid/foyer/gateway"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/keys"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// foyer is a real Foyer gateway on loopback whose only connector is SAML
// against a samlidp, with one confidential client.
type foyer struct {
	t      *testing.T
	issuer string
	clock  *clock
	idp    *testenv.SAMLIdPServer
	oauth  oauth2.Config
	// sent is the last AuthnRequest sent with the HTTP-POST binding and
	// got the last Response the IdP sent, both as XML.
	sent, got string
}

const (
	rpRedirect = "https://webapp.rp.example/cb"
	rpSecret   = "secret-webapp"
)

func newFoyer(t *testing.T, idp *testenv.SAMLIdPServer, mods ...func(*saml.Config)) *foyer {
	t.Helper()
	ctx := context.Background()
	f := &foyer{t: t, clock: newClock(), idp: idp}
	store := memory.New(memory.WithClock(f.clock.Now))
	srv := httptest.NewUnstartedServer(nil)
	f.issuer = "http://" + srv.Listener.Addr().String()
	logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if os.Getenv("FOYER_TEST_QUIET") != "" {
		logger = slog.New(slog.DiscardHandler)
	}
	km, err := keys.NewManager(store, keys.GenerateKEK(), keys.Options{TokenLifetime: time.Hour, Clock: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := saml.Config{
		IDPMetadataURL: idp.MetadataURL,
		NameIDFormat:   "emailAddress", // what samlidp sends
		GroupsAttr:     []string{"eduPersonAffiliation"},
	}
	for _, m := range mods {
		m(&cfg)
	}
	conn, err := saml.Open(cfg, connectors.Env{
		ID: "corp", CallbackURL: f.issuer + "/callback/corp", Issuer: f.issuer,
		Logger: logger.With("connector_id", "corp"), HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Replay: store,
	}, saml.WithClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	md, err := conn.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	idp.RegisterSP(t, "foyer", md)
	gw, err := gateway.New(gateway.Options{
		Issuer: f.issuer, Directory: store, State: store, Keys: km,
		Connectors: []gateway.Connector{{ID: "corp", Type: saml.TypeName, Name: "Corp SSO", Impl: conn, Policy: identity.Policy{Signup: true}}},
		Linker:     identity.NewLinker(store, f.clock.Now, logger),
		Lifetimes:  gateway.DefaultLifetimes,
		FlowKey:    []byte(strings.Repeat("k", 32)),
		Logger:     logger,
		Clock:      f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gw.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	client := storage.Client{
		ID: "webapp", Name: "Web app", RedirectURIs: []string{rpRedirect},
		SecretHash: gateway.HashClientSecret(rpSecret), CreatedAt: f.clock.Now(),
	}
	if err := store.CreateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
	f.oauth = oauth2.Config{
		ClientID: client.ID, ClientSecret: rpSecret, RedirectURL: rpRedirect,
		Endpoint: oauth2.Endpoint{AuthURL: f.issuer + "/authorize", TokenURL: f.issuer + "/token"},
		Scopes:   []string{oidc.ScopeOpenID, "email", "profile", "groups"},
	}
	return f
}

// page is one HTTP exchange, read in full.
type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func (p page) location() *url.URL {
	l := p.header.Get("Location")
	if l == "" || p.status < 300 || p.status > 399 {
		return nil
	}
	u, err := p.url.Parse(l)
	if err != nil {
		return nil
	}
	return u
}

func (f *foyer) send(b *http.Client, method, target string, form url.Values) page {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, target, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return page{status: res.StatusCode, header: res.Header, body: string(data), url: req.URL}
}

// follow follows redirects while they stay on Foyer.
func (f *foyer) follow(b *http.Client, p page) page {
	f.t.Helper()
	for range 10 {
		loc := p.location()
		if loc == nil || !f.onFoyer(loc) {
			return p
		}
		p = f.send(b, http.MethodGet, loc.String(), nil)
	}
	f.t.Fatalf("too many redirects at %s", p.url)
	return p
}

func (f *foyer) onFoyer(u *url.URL) bool { return u.Scheme+"://"+u.Host == f.issuer }

var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`(?s)([a-zA-Z_-]+)="([^"]*)"`)
)

func attrsOf(tag string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2])
	}
	return out
}

// form reads the first form of a Foyer page: its absolute action and its
// hidden fields.
func (f *foyer) form(p page) (string, url.Values) {
	f.t.Helper()
	m := formRE.FindStringSubmatch(p.body)
	if m == nil {
		f.t.Fatalf("%s (status %d): no form in page:\n%s", p.url.Path, p.status, p.body)
	}
	action, err := p.url.Parse(attrsOf(m[1])["action"])
	if err != nil {
		f.t.Fatal(err)
	}
	fields := url.Values{}
	for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
		a := attrsOf(in[1])
		if a["type"] == "hidden" && a["name"] != "" {
			fields.Add(a["name"], a["value"])
		}
	}
	return action.String(), fields
}

func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// login runs a browser from the authorization request to the moment the
// IdP posts its response back to Foyer, and returns what Foyer answered
// to that post (after its same-origin bounce, if it made one).
func (f *foyer) login(b *http.Client, authURL, username, password string) page {
	f.t.Helper()
	p := f.follow(b, f.send(b, http.MethodGet, authURL, nil))
	var acs testenv.SAMLForm
	if loc := p.location(); loc != nil {
		// HTTP-Redirect binding: Foyer sends the browser to the IdP.
		if !strings.HasPrefix(loc.String(), f.idp.SSOURL+"?") || loc.Query().Get("SAMLRequest") == "" {
			f.t.Fatalf("sent to %s, want the IdP's SSO URL with a SAMLRequest", loc)
		}
		acs = f.idp.SSO(f.t, b, loc.String(), nil, username, password)
	} else {
		// HTTP-POST binding: Foyer's page auto-posts to the IdP.
		action, fields := f.form(p)
		if action != f.idp.SSOURL || fields.Get("SAMLRequest") == "" || fields.Get("RelayState") == "" {
			f.t.Fatalf("form posts %v to %s, want SAMLRequest and RelayState to %s", fields, action, f.idp.SSOURL)
		}
		f.sent = decodeB64(f.t, fields.Get("SAMLRequest"))
		acs = f.idp.SSO(f.t, b, action, fields, username, password)
	}
	f.got = decodeB64(f.t, acs.Fields.Get("SAMLResponse"))
	if acs.Action != f.issuer+"/callback/corp" {
		f.t.Fatalf("IdP posts to %q, want Foyer's callback", acs.Action)
	}
	return f.deliver(b, acs)
}

func decodeB64(t *testing.T, s string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// deliver posts the IdP's form to Foyer as a browser would: the POST
// comes from the IdP's site, so the browser withholds Foyer's SameSite=Lax
// cookies; Foyer may bounce it once through its own page, whose POST
// carries them.
func (f *foyer) deliver(b *http.Client, acs testenv.SAMLForm) page {
	f.t.Helper()
	crossSite := &http.Client{Timeout: 30 * time.Second, CheckRedirect: b.CheckRedirect}
	p := f.send(crossSite, http.MethodPost, acs.Action, acs.Fields)
	if p.status == http.StatusOK && strings.Contains(p.body, `id="formpost"`) {
		action, fields := f.form(p)
		if u, err := url.Parse(action); err != nil || !f.onFoyer(u) {
			f.t.Fatalf("bounce form posts to %q, want Foyer", action)
		}
		p = f.send(b, http.MethodPost, action, fields)
	}
	return f.follow(b, p)
}

// consent allows the consent page and returns the authorization response.
func (f *foyer) consent(b *http.Client, p page) url.Values {
	f.t.Helper()
	if p.status != http.StatusOK || p.url.Path != "/consent" {
		f.t.Fatalf("%s: status %d, want the consent page:\n%s", p.url.Path, p.status, p.body)
	}
	action, fields := f.form(p)
	fields.Set("decision", "allow")
	p = f.follow(b, f.send(b, http.MethodPost, action, fields))
	loc := p.location()
	if loc == nil || !strings.HasPrefix(loc.String(), rpRedirect+"?") {
		f.t.Fatalf("after consent: status %d, Location %q, want the client's redirect URI", p.status, p.header.Get("Location"))
	}
	return loc.Query()
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	Email             string   `json:"email"`
	EmailVerified     *bool    `json:"email_verified"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
}

// exchange redeems the code and verifies the ID token with go-oidc.
func (f *foyer) exchange(q url.Values, state, verifier, nonce string) idClaims {
	f.t.Helper()
	if q.Get("state") != state || q.Get("code") == "" {
		f.t.Fatalf("authorization response %v, want a code and state %q", q, state)
	}
	ctx := oidc.ClientContext(context.Background(), &http.Client{Timeout: 10 * time.Second})
	tok, err := f.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		f.t.Fatalf("exchange: %v", err)
	}
	provider, err := oidc.NewProvider(ctx, f.issuer)
	if err != nil {
		f.t.Fatalf("discovery: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := provider.Verifier(&oidc.Config{ClientID: f.oauth.ClientID, Now: f.clock.Now}).Verify(ctx, raw)
	if err != nil {
		f.t.Fatalf("verify ID token: %v", err)
	}
	if id.Nonce != nonce {
		f.t.Errorf("nonce %q, want %q", id.Nonce, nonce)
	}
	var c idClaims
	if err := id.Claims(&c); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// authURL starts an authorization request with PKCE.
func (f *foyer) authURL() (target, state, verifier, nonce string) {
	verifier = oauth2.GenerateVerifier()
	state, nonce = "state-"+storage.NewID(), "nonce-"+storage.NewID()
	return f.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), state, verifier, nonce
}

var alice = testenv.SAMLUser{
	Username: "alice", Password: "pw-alice", Email: "alice@example.com", Name: "Alice Liddell",
	Groups: []string{"admins", "dev"},
}

// TestEndToEnd logs alice in through the whole OIDC flow with samlidp as
// the upstream: authorize → Foyer → IdP login form → IdP's POST to
// /callback/corp (bounced by Foyer) → consent → code → token.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mods      []func(*saml.Config)
		encrypted bool // the SP has a key: requests signed, assertions encrypted
	}{
		{name: "HTTP-Redirect binding, unsigned requests"},
		{name: "HTTP-POST binding, signed requests, encrypted assertions", encrypted: true, mods: []func(*saml.Config){
			func(c *saml.Config) { c.Binding = saml.BindingPost },
			withSPKey(t),
			func(c *saml.Config) { c.RequireSigned = saml.SignedAssertion },
		}},
		{name: "response signature required", mods: []func(*saml.Config){
			func(c *saml.Config) { c.RequireSigned = saml.SignedResponse },
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idp := testenv.SAMLIdP(t, alice)
			f := newFoyer(t, idp, tt.mods...)
			b := browser(t)
			target, state, verifier, nonce := f.authURL()
			claims := f.exchange(f.consent(b, f.login(b, target, "alice", "pw-alice")), state, verifier, nonce)
			if claims.Email != "alice@example.com" || claims.EmailVerified == nil || *claims.EmailVerified {
				t.Errorf("email %q verified %v, want alice@example.com unverified", claims.Email, claims.EmailVerified)
			}
			if claims.PreferredUsername != "alice" || claims.Name != "Alice Liddell" {
				t.Errorf("username %q name %q", claims.PreferredUsername, claims.Name)
			}
			if !slices.Equal(claims.Groups, []string{"admins", "dev"}) {
				t.Errorf("groups %v, want [admins dev]", claims.Groups)
			}
			if tt.encrypted && (!strings.Contains(f.sent, "<ds:Signature") || !strings.Contains(f.got, "EncryptedAssertion")) {
				t.Errorf("want a signed AuthnRequest and an encrypted assertion:\nrequest %s\nresponse %s", f.sent, f.got)
			}
			if !tt.encrypted && strings.Contains(f.got, "EncryptedAssertion") {
				t.Error("assertion encrypted without an SP key")
			}
		})
	}
}

// TestEndToEndRefusals checks the pages Foyer shows when the SAML login is
// refused: readable, and without the reason's detail.
func TestEndToEndRefusals(t *testing.T) {
	t.Parallel()
	bob := testenv.SAMLUser{Username: "bob", Password: "pw-bob", Email: "bob@example.com", Groups: []string{"sales"}}
	idp := testenv.SAMLIdP(t, alice, bob)

	t.Run("not in an allowed group", func(t *testing.T) {
		f := newFoyer(t, idp, func(c *saml.Config) { c.AllowedGroups = []string{"admins"} })
		target, _, _, _ := f.authURL()
		p := f.login(browser(t), target, "bob", "pw-bob")
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "not in a group allowed") {
			t.Fatalf("status %d, want 403 with the refusal's reason:\n%s", p.status, p.body)
		}
		if strings.Contains(p.body, "bob@example.com") {
			t.Error("the page shows the refusal's detail")
		}
	})
	t.Run("captured response posted into another login", func(t *testing.T) {
		f := newFoyer(t, idp)
		b := browser(t)
		target, _, _, _ := f.authURL()
		p := f.follow(b, f.send(b, http.MethodGet, target, nil))
		acs := idp.SSO(t, b, p.location().String(), nil, "alice", "pw-alice")
		if first := f.deliver(b, acs); first.url.Path != "/consent" {
			t.Fatalf("first delivery: %s status %d", first.url.Path, first.status)
		}
		// A second login in another browser, with the captured response
		// posted in place of its own: its RelayState names the first
		// request, already used; and with the new RelayState, the
		// assertion answers the wrong request.
		b2 := browser(t)
		target2, _, _, _ := f.authURL()
		p2 := f.follow(b2, f.send(b2, http.MethodGet, target2, nil))
		own := idp.SSO(t, b2, p2.location().String(), nil, "alice", "pw-alice")
		stolen := testenv.SAMLForm{Action: acs.Action, Fields: url.Values{
			"SAMLResponse": acs.Fields["SAMLResponse"], "RelayState": own.Fields["RelayState"],
		}}
		got := f.deliver(b2, stolen)
		if got.status != http.StatusBadGateway || strings.Contains(got.body, "InResponseTo") || strings.Contains(got.body, "SubjectConfirmation") {
			t.Fatalf("status %d, want 502 with a generic page:\n%s", got.status, got.body)
		}
	})
}

// withSPKey gives the connector an RSA SP key and certificate in files.
func withSPKey(t *testing.T) func(*saml.Config) {
	t.Helper()
	s := otherSigner(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "sp.crt"), filepath.Join(dir, "sp.key")
	keyDER, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *saml.Config) { c.SPCertFile, c.SPKeyFile = certFile, keyFile }
}

// testLog sends log lines to t.Log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
