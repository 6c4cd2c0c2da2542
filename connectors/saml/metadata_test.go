package saml_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/saml"
	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage/memory"
)

func testEnv() connectors.Env {
	return connectors.Env{ID: "corp", CallbackURL: testACS, Issuer: testIssuer, Replay: memory.New()}
}

func TestSPMetadata(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	tests := []struct {
		name       string
		mods       []func(*saml.Config)
		entityID   string
		nameID     string
		signingKey bool
	}{
		{name: "defaults", entityID: testSPID, nameID: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"},
		{name: "own entity ID, SP key, emailAddress", entityID: "urn:foyer:corp",
			nameID: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", signingKey: true,
			mods: []func(*saml.Config){withSPKey(t), func(c *saml.Config) {
				c.EntityID, c.NameIDFormat = "urn:foyer:corp", "emailAddress"
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := newUnit(t, idp, tt.mods...)
			if u.conn.EntityID() != tt.entityID {
				t.Errorf("EntityID() = %q, want %q", u.conn.EntityID(), tt.entityID)
			}
			rec := httptest.NewRecorder()
			u.conn.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, testSPID, nil))
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/samlmetadata+xml" {
				t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var md crewsaml.EntityDescriptor
			if err := xml.Unmarshal(rec.Body.Bytes(), &md); err != nil {
				t.Fatalf("metadata: %v\n%s", err, rec.Body)
			}
			if md.EntityID != tt.entityID || len(md.SPSSODescriptors) != 1 {
				t.Fatalf("entity %q with %d SP descriptors", md.EntityID, len(md.SPSSODescriptors))
			}
			sp := md.SPSSODescriptors[0]
			if len(sp.AssertionConsumerServices) != 1 || sp.AssertionConsumerServices[0].Binding != crewsaml.HTTPPostBinding ||
				sp.AssertionConsumerServices[0].Location != testACS {
				t.Errorf("ACS %+v, want only HTTP-POST at %s", sp.AssertionConsumerServices, testACS)
			}
			if len(sp.NameIDFormats) != 1 || string(sp.NameIDFormats[0]) != tt.nameID {
				t.Errorf("NameID formats %v, want %s", sp.NameIDFormats, tt.nameID)
			}
			signing := false
			for _, kd := range sp.KeyDescriptors {
				signing = signing || kd.Use == "signing"
			}
			if signing != tt.signingKey || sp.AuthnRequestsSigned == nil || *sp.AuthnRequestsSigned != tt.signingKey {
				t.Errorf("signing key %t, AuthnRequestsSigned %v, want %t", signing, sp.AuthnRequestsSigned, tt.signingKey)
			}
			if sp.WantAssertionsSigned == nil || !*sp.WantAssertionsSigned {
				t.Error("WantAssertionsSigned is not true")
			}
			rec = httptest.NewRecorder()
			u.conn.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, testSPID, nil))
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("POST: status %d, want 405", rec.Code)
			}
		})
	}
}

func TestLoginRequests(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	ctx := context.Background()

	t.Run("redirect binding", func(t *testing.T) {
		t.Parallel()
		u := newUnit(t, idp)
		action, _, _, err := u.conn.LoginForm(ctx, connectors.Scopes{}, testACS, "st")
		if err != nil || action != "" {
			t.Fatalf("LoginForm = %q, %v; want no action with the redirect binding", action, err)
		}
		target, connState, err := u.conn.LoginURL(ctx, connectors.Scopes{}, testACS, "st")
		if err != nil || len(connState) == 0 {
			t.Fatalf("LoginURL: %v (state %q)", err, connState)
		}
		q := mustURL(t, target).Query()
		if !strings.HasPrefix(target, idp.SSOURL+"?") || q.Get("RelayState") != "st" || q.Has("Signature") {
			t.Errorf("LoginURL %s", target)
		}
		if redirectRequestID(t, target) == "" {
			t.Error("AuthnRequest without an ID")
		}
	})
	t.Run("redirect binding, signed, SSO URL overridden", func(t *testing.T) {
		t.Parallel()
		u := newUnit(t, idp, withSPKey(t), func(c *saml.Config) { c.SSOURL = "https://sso.example/login" })
		target, _, err := u.conn.LoginURL(ctx, connectors.Scopes{}, testACS, "st")
		if err != nil {
			t.Fatal(err)
		}
		q := mustURL(t, target).Query()
		if !strings.HasPrefix(target, "https://sso.example/login?") || q.Get("SigAlg") == "" || q.Get("Signature") == "" {
			t.Errorf("LoginURL %s, want a signed request to the configured SSO URL", target)
		}
	})
	t.Run("post binding, signed with an ECDSA key", func(t *testing.T) {
		t.Parallel()
		u := newUnit(t, idp, withECSPKey(t), func(c *saml.Config) { c.Binding = saml.BindingPost })
		_, fields, _, err := u.conn.LoginForm(ctx, connectors.Scopes{}, testACS, "st")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(fields["SAMLRequest"])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), "ecdsa-sha256") {
			t.Errorf("SAMLRequest not signed with ECDSA-SHA256: %s", raw)
		}
	})
	t.Run("post binding", func(t *testing.T) {
		t.Parallel()
		u := newUnit(t, idp, func(c *saml.Config) { c.Binding = saml.BindingPost })
		action, fields, connState, err := u.conn.LoginForm(ctx, connectors.Scopes{}, testACS, "st")
		if err != nil || action != idp.SSOURL || fields["RelayState"] != "st" || len(connState) == 0 {
			t.Fatalf("LoginForm = %q %v %q, %v", action, fields, connState, err)
		}
		raw, err := base64.StdEncoding.DecodeString(fields["SAMLRequest"])
		if err != nil {
			t.Fatal(err)
		}
		if xmlRequestID(t, raw) == "" || strings.Contains(string(raw), "Signature") {
			t.Errorf("SAMLRequest %s", raw)
		}
	})
}

// metadataServer serves the IdP metadata while up, and counts requests.
type metadataServer struct {
	mu   sync.Mutex
	up   bool
	hits int
	data []byte
	srv  *httptest.Server
}

func newMetadataServer(t *testing.T, data []byte) *metadataServer {
	t.Helper()
	m := &metadataServer{data: data}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.hits++
		if !m.up {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(m.data)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *metadataServer) set(up bool) (hits int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.up = up
	return m.hits
}

// TestMetadataFetch checks that the IdP metadata is fetched lazily, that
// Foyer opens while the IdP is down, and the cache and retry behaviour.
func TestMetadataFetch(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	ms := newMetadataServer(t, idp.Metadata)
	c := newClock()
	env := testEnv()
	env.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	conn, err := saml.Open(saml.Config{IDPMetadataURL: ms.srv.URL}, env, saml.WithClock(c.Now))
	if err != nil {
		t.Fatalf("Open with the IdP down: %v", err)
	}
	login := func() error {
		_, _, err := conn.LoginURL(context.Background(), connectors.Scopes{}, testACS, "st")
		return err
	}
	if hits := ms.set(false); hits != 0 {
		t.Fatalf("Open fetched the metadata (%d requests)", hits)
	}
	if err := login(); err == nil {
		t.Fatal("login worked with the IdP down")
	}
	ms.set(true)
	if err := login(); err == nil {
		t.Error("a failed fetch was retried at once")
	}
	if hits := ms.set(true); hits != 1 {
		t.Errorf("%d fetches, want 1 within the retry delay", hits)
	}
	c.Advance(31 * time.Second)
	for range 3 {
		if err := login(); err != nil {
			t.Fatalf("login with the IdP up: %v", err)
		}
	}
	if hits := ms.set(false); hits != 2 {
		t.Errorf("%d fetches, want 2: the metadata is cached", hits)
	}
	c.Advance(2 * time.Hour)
	if err := login(); err != nil {
		t.Errorf("login with the IdP down again and a cached copy: %v", err)
	}
	if hits := ms.set(false); hits != 3 {
		t.Errorf("%d fetches, want a refresh attempt after the cache time", hits)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	dir := t.TempDir()
	mdFile := filepath.Join(dir, "idp.xml")
	if err := os.WriteFile(mdFile, idp.Metadata, 0o600); err != nil {
		t.Fatal(err)
	}
	// An aggregate with the IdP alone, and one with it twice.
	one := "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">" + stripDecl(idp.Metadata) + "</md:EntitiesDescriptor>"
	two := "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">" + stripDecl(idp.Metadata) + stripDecl(idp.Metadata) + "</md:EntitiesDescriptor>"
	noCert := strings.ReplaceAll(string(idp.Metadata), "X509Certificate>", "X509Cert>")
	spKey := withSPKey(t)
	otherKey := withSPKey(t)
	tests := []struct {
		name string
		cfg  saml.Config
		env  func(*connectors.Env)
		ok   bool
	}{
		{name: "metadata file", cfg: saml.Config{IDPMetadataFile: mdFile}, ok: true},
		{name: "metadata aggregate with one IdP", cfg: saml.Config{IDPMetadataData: one}, ok: true},
		{name: "metadata aggregate with two IdPs", cfg: saml.Config{IDPMetadataData: two}},
		{name: "metadata without a signing certificate", cfg: saml.Config{IDPMetadataData: noCert}},
		{name: "metadata that is not XML", cfg: saml.Config{IDPMetadataData: "{}"}},
		{name: "missing metadata file", cfg: saml.Config{IDPMetadataFile: filepath.Join(dir, "nope.xml")}},
		{name: "invalid config", cfg: saml.Config{}},
		{name: "no replay cache", cfg: saml.Config{IDPMetadataFile: mdFile}, env: func(e *connectors.Env) { e.Replay = nil }},
		{name: "relative callback URL", cfg: saml.Config{IDPMetadataFile: mdFile}, env: func(e *connectors.Env) { e.CallbackURL = "/callback/corp" }},
		{name: "SP key pair", cfg: func() saml.Config { c := saml.Config{IDPMetadataFile: mdFile}; spKey(&c); return c }(), ok: true},
		{name: "SP key of another certificate", cfg: func() saml.Config {
			c, o := saml.Config{IDPMetadataFile: mdFile}, saml.Config{}
			spKey(&c)
			otherKey(&o)
			c.SPKeyFile = o.SPKeyFile
			return c
		}()},
		{name: "SP certificate file missing", cfg: saml.Config{IDPMetadataFile: mdFile, SPCertFile: filepath.Join(dir, "x.crt"), SPKeyFile: filepath.Join(dir, "x.key")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv()
			if tt.env != nil {
				tt.env(&env)
			}
			_, err := saml.Open(tt.cfg, env)
			if tt.ok != (err == nil) {
				t.Fatalf("Open: %v, want ok=%t", err, tt.ok)
			}
		})
	}
}

func stripDecl(b []byte) string {
	s := string(b)
	if i := strings.Index(s, "?>"); strings.HasPrefix(s, "<?xml") && i > 0 {
		return s[i+2:]
	}
	return s
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// withECSPKey gives the connector an ECDSA P-256 SP key and certificate
// (SEC 1 PEM) in files.
func withECSPKey(t *testing.T) func(*saml.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Foyer SP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "sp.crt"), filepath.Join(dir, "sp.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *saml.Config) { c.SPCertFile, c.SPKeyFile = certFile, keyFile }
}
