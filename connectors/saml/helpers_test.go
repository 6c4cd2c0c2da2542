package saml_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/saml"
	"github.com/foyerid/foyer/internal/config"
	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage/memory"
)

// clock is a settable clock shared by a connector and its store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC().Truncate(time.Millisecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Where the unit tests' Foyer lives; nothing listens there.
const (
	testIssuer = "https://foyer.example"
	testACS    = testIssuer + "/callback/corp"
	testSPID   = testIssuer + "/saml/corp/metadata"
)

// unit is a connector over fixed IdP metadata, with a memory store and a
// settable clock, for tests that post responses they built themselves.
type unit struct {
	conn  *saml.Connector
	clock *clock
	store *memory.Store
	idp   *testenv.SAMLIdPServer
}

func newUnit(t *testing.T, idp *testenv.SAMLIdPServer, mods ...func(*saml.Config)) *unit {
	t.Helper()
	u := &unit{clock: newClock(), idp: idp}
	u.store = memory.New(memory.WithClock(u.clock.Now))
	cfg := saml.Config{IDPMetadataData: string(idp.Metadata), GroupsAttr: []string{"groups"}}
	for _, m := range mods {
		m(&cfg)
	}
	var err error
	u.conn, err = saml.Open(cfg, connectors.Env{
		ID: "corp", CallbackURL: testACS, Issuer: testIssuer, Replay: u.store,
	}, saml.WithClock(u.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// start begins a login: it returns the connector state and the ID of the
// AuthnRequest, read from the redirect URL as the IdP would.
func (u *unit) start(t *testing.T) ([]byte, string) {
	t.Helper()
	target, connState, err := u.conn.LoginURL(context.Background(), connectors.Scopes{}, testACS, "relay")
	if err != nil {
		t.Fatal(err)
	}
	return connState, redirectRequestID(t, target)
}

// redirectRequestID decodes the AuthnRequest of an HTTP-Redirect URL
// (saml-bindings-2.0-os §3.4.4.1: DEFLATE, then base64) and returns its ID.
func redirectRequestID(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	deflated, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatalf("SAMLRequest: %v", err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatalf("inflate SAMLRequest: %v", err)
	}
	return xmlRequestID(t, raw)
}

func xmlRequestID(t *testing.T, raw []byte) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatalf("AuthnRequest: %v", err)
	}
	if doc.Root() == nil || doc.Root().Tag != "AuthnRequest" {
		t.Fatalf("not an AuthnRequest: %s", raw)
	}
	return doc.Root().SelectAttrValue("ID", "")
}

// post hands a SAMLResponse (the XML, base64-encoded here) to the
// connector as the gateway would.
func (u *unit) post(connState []byte, responseXML []byte) (connectors.Identity, error) {
	return u.postForm(connState, url.Values{
		"SAMLResponse": {base64.StdEncoding.EncodeToString(responseXML)},
		"RelayState":   {"relay"},
	})
}

func (u *unit) postForm(connState []byte, form url.Values) (connectors.Identity, error) {
	r := httptest.NewRequest(http.MethodPost, testACS, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.URL.Path = "/callback/corp"
	return u.conn.HandleCallback(context.Background(), connectors.Scopes{Groups: true}, connState, r)
}

// signer is an IdP key and certificate.
type signer struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// otherSigner is a key and self-signed certificate no metadata lists.
func otherSigner(t *testing.T) signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Evil IdP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return signer{key: key, cert: cert}
}

// sign signs el with an enveloped signature (exclusive c14n, RSA-SHA256)
// and moves the Signature right after the Issuer, where the SAML schema
// puts it.
func (s signer) sign(t *testing.T, el *etree.Element) *etree.Element {
	t.Helper()
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{s.cert.Raw}, PrivateKey: s.key, Leaf: s.cert,
	}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		t.Fatal(err)
	}
	// goxmldsig appends the Signature to the copy's children without
	// parenting it, so take it out of the list by hand.
	sig, ok := signed.Child[len(signed.Child)-1].(*etree.Element)
	if !ok || sig.Tag != "Signature" {
		t.Fatal("no Signature appended")
	}
	signed.Child = signed.Child[:len(signed.Child)-1]
	at := 0
	for i, c := range signed.Child {
		if e, ok := c.(*etree.Element); ok && e.Tag == "Issuer" {
			at = i + 1
			break
		}
	}
	signed.InsertChildAt(at, sig)
	return signed
}

// forge builds responses as the test IdP would send them for one request.
type forge struct {
	idpID     string
	requestID string
	now       time.Time
}

func (u *unit) forge(requestID string) forge {
	return forge{idpID: u.idp.MetadataURL, requestID: requestID, now: u.clock.Now()}
}

func (u *unit) idpSigner() signer { return signer{key: u.idp.Key, cert: u.idp.Certificate} }

const (
	persistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	bearer     = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

func attr(name string, values ...string) crewsaml.Attribute {
	a := crewsaml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}
	for _, v := range values {
		a.Values = append(a.Values, crewsaml.AttributeValue{Type: "xs:string", Value: v})
	}
	return a
}

// assertion is a valid assertion for alice.
func (f forge) assertion() *crewsaml.Assertion {
	return &crewsaml.Assertion{
		ID: "id-" + rand.Text(), IssueInstant: f.now, Version: "2.0",
		Issuer: crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: f.idpID},
		Subject: &crewsaml.Subject{
			NameID: &crewsaml.NameID{Format: persistent, Value: "u-alice"},
			SubjectConfirmations: []crewsaml.SubjectConfirmation{{
				Method: bearer,
				SubjectConfirmationData: &crewsaml.SubjectConfirmationData{
					InResponseTo: f.requestID, NotOnOrAfter: f.now.Add(time.Minute), Recipient: testACS,
				},
			}},
		},
		Conditions: &crewsaml.Conditions{
			NotBefore: f.now.Add(-30 * time.Second), NotOnOrAfter: f.now.Add(time.Minute),
			AudienceRestrictions: []crewsaml.AudienceRestriction{{Audience: crewsaml.Audience{Value: testSPID}}},
		},
		AuthnStatements: []crewsaml.AuthnStatement{{
			AuthnInstant: f.now, SessionIndex: "s-1",
			AuthnContext: crewsaml.AuthnContext{AuthnContextClassRef: &crewsaml.AuthnContextClassRef{
				Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
			}},
		}},
		AttributeStatements: []crewsaml.AttributeStatement{{Attributes: []crewsaml.Attribute{
			attr("mail", "alice@example.com"), attr("uid", "alice"), attr("displayName", "Alice Liddell"),
			attr("groups", "admins", "dev"),
		}}},
	}
}

// response wraps assertion elements in a Response to the request.
func (f forge) response(assertions ...*etree.Element) *etree.Element {
	r := crewsaml.Response{
		ID: "id-" + rand.Text(), InResponseTo: f.requestID, Version: "2.0", IssueInstant: f.now,
		Destination: testACS,
		Issuer:      &crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: f.idpID},
		Status:      crewsaml.Status{StatusCode: crewsaml.StatusCode{Value: crewsaml.StatusSuccess}},
	}
	el := r.Element()
	for _, a := range assertions {
		el.AddChild(a)
	}
	return el
}

// doc serialises an element as a document.
func doc(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	d := etree.NewDocument()
	d.SetRoot(el)
	out, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signedAssertion is a valid response whose assertion alone is signed.
func (u *unit) signedAssertion(t *testing.T, f forge, a *crewsaml.Assertion) []byte {
	t.Helper()
	return doc(t, f.response(u.idpSigner().sign(t, a.Element())))
}

func durationOf(d time.Duration) config.Duration { return config.Duration(d) }
