package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml/samlidp"
	"golang.org/x/crypto/bcrypt"
)

// samlIdPTimeout bounds one HTTP exchange of the helper with the IdP.
const samlIdPTimeout = 30 * time.Second

// SAMLUser is a person the test identity provider knows.
type SAMLUser struct {
	// Username is the login name; the IdP sends it as the uid attribute
	// (urn:oid:0.9.2342.19200300.100.1.1).
	Username string
	Password string
	// Email is the NameID (format emailAddress) and the mail attribute
	// (urn:oid:0.9.2342.19200300.100.1.3). A user without one gets a
	// transient NameID.
	Email string
	// Name is sent as cn (urn:oid:2.5.4.3).
	Name string
	// Groups are sent as eduPersonAffiliation
	// (urn:oid:1.3.6.1.4.1.5923.1.1.1.1).
	Groups []string
}

// SAMLIdPServer is crewjam/saml's own identity provider (samlidp) on a
// loopback httptest server, with a fresh RSA key and a self-signed
// certificate. Its entity ID is MetadataURL.
type SAMLIdPServer struct {
	// URL is the base URL, http://127.0.0.1:port.
	URL string
	// MetadataURL serves the IdP metadata; it is also the entity ID.
	MetadataURL string
	// SSOURL is the single sign-on endpoint (HTTP-Redirect and HTTP-POST).
	SSOURL string
	// Metadata is the IdP metadata document as served at start.
	Metadata []byte
	// Key and Certificate sign the IdP's assertions; CertificatePEM is the
	// certificate in PEM.
	Key            *rsa.PrivateKey
	Certificate    *x509.Certificate
	CertificatePEM []byte
	// IdP is the running samlidp server, for tests that need more.
	IdP *samlidp.Server

	srv *httptest.Server
}

// SAMLIdP starts a samlidp identity provider on loopback with the given
// users, and stops it with t.Cleanup. Service providers are registered
// with RegisterSP. Nothing outside the process is needed, so it never
// skips.
func SAMLIdP(t testing.TB, users ...SAMLUser) *SAMLIdPServer {
	t.Helper()
	key, cert, certPEM, err := samlSigningPair("Foyer test SAML IdP")
	if err != nil {
		t.Fatalf("testenv: samlidp key: %v", err)
	}
	s := &SAMLIdPServer{Key: key, Certificate: cert, CertificatePEM: certPEM}
	s.srv = httptest.NewUnstartedServer(nil)
	s.URL = "http://" + s.srv.Listener.Addr().String()
	base, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("testenv: samlidp url: %v", err)
	}
	lg := &samlTestLogger{t: t}
	s.IdP, err = samlidp.New(samlidp.Options{
		URL: *base, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{}, Logger: lg,
	})
	if err != nil {
		t.Fatalf("testenv: samlidp: %v", err)
	}
	s.srv.Config.Handler = s.IdP
	s.srv.Start()
	t.Cleanup(func() {
		s.srv.Close()
		lg.stop()
	})
	s.MetadataURL = s.URL + "/metadata"
	s.SSOURL = s.URL + "/sso"
	for _, u := range users {
		s.AddUser(t, u)
	}
	res := s.exchange(t, http.DefaultClient, http.MethodGet, s.MetadataURL, "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("testenv: samlidp metadata: status %d", res.status)
	}
	s.Metadata = res.body
	return s
}

// AddUser stores (or replaces) a user.
func (s *SAMLIdPServer) AddUser(t testing.TB, u SAMLUser) {
	t.Helper()
	// The lowest bcrypt cost keeps tests fast; samlidp accepts any cost.
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("testenv: samlidp user %q: %v", u.Username, err)
	}
	user := samlidp.User{
		Name: u.Username, HashedPassword: hash, Groups: append([]string{}, u.Groups...),
		Email: u.Email, CommonName: u.Name,
	}
	if err := s.IdP.Store.Put("/users/"+u.Username, &user); err != nil {
		t.Fatalf("testenv: samlidp user %q: %v", u.Username, err)
	}
}

// RegisterSP registers a service provider by its metadata under id
// (samlidp's PUT /services/{id}): from then on the IdP answers its
// requests and posts responses to its assertion consumer service.
func (s *SAMLIdPServer) RegisterSP(t testing.TB, id string, metadata []byte) {
	t.Helper()
	res := s.exchange(t, http.DefaultClient, http.MethodPut, s.URL+"/services/"+url.PathEscape(id), "application/samlmetadata+xml", metadata)
	if res.status != http.StatusNoContent {
		t.Fatalf("testenv: samlidp register %q: status %d: %s", id, res.status, res.body)
	}
}

// LoginSession logs username in at the IdP's /login with the browser b
// (which must have a cookie jar), so that later SSO requests from b are
// answered without a login form. It fails the test on wrong credentials.
func (s *SAMLIdPServer) LoginSession(t testing.TB, b *http.Client, username, password string) {
	t.Helper()
	form := url.Values{"user": {username}, "password": {password}}
	res := s.exchange(t, b, http.MethodPost, s.URL+"/login", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if res.status != http.StatusOK || !bytes.HasPrefix(bytes.TrimSpace(res.body), []byte("{")) {
		t.Fatalf("testenv: samlidp login %q: status %d: %s", username, res.status, res.body)
	}
}

// SAMLForm is an HTML form a browser would submit: where it posts, and
// its hidden fields.
type SAMLForm struct {
	Action string
	Fields url.Values
}

// SSO plays the browser at the IdP. It sends the request that starts
// single sign-on (a GET of the HTTP-Redirect URL when form is nil, else a
// POST of form to target, as for the HTTP-POST binding), fills in the
// login form with username and password if the IdP shows one, and
// returns the form the IdP then auto-submits to the service provider
// (action = the assertion consumer service, fields SAMLResponse and
// RelayState). It does not post that form: the caller does, as a
// browser would. b should have a cookie jar and not follow redirects.
func (s *SAMLIdPServer) SSO(t testing.TB, b *http.Client, target string, form url.Values, username, password string) SAMLForm {
	t.Helper()
	var res samlExchange
	if form == nil {
		res = s.exchange(t, b, http.MethodGet, target, "", nil)
	} else {
		res = s.exchange(t, b, http.MethodPost, target, "application/x-www-form-urlencoded", []byte(form.Encode()))
	}
	if res.status != http.StatusOK {
		t.Fatalf("testenv: samlidp sso: status %d: %s", res.status, res.body)
	}
	page := parseSAMLForm(t, res.body)
	if _, ok := page.Fields["SAMLResponse"]; ok {
		return page // a session already existed
	}
	page.Fields.Set("user", username)
	page.Fields.Set("password", password)
	action := s.resolve(t, page.Action)
	res = s.exchange(t, b, http.MethodPost, action, "application/x-www-form-urlencoded", []byte(page.Fields.Encode()))
	if res.status != http.StatusOK {
		t.Fatalf("testenv: samlidp login: status %d: %s", res.status, res.body)
	}
	out := parseSAMLForm(t, res.body)
	if out.Fields.Get("SAMLResponse") == "" {
		t.Fatalf("testenv: samlidp login of %q did not produce a SAMLResponse:\n%s", username, res.body)
	}
	return out
}

// resolve makes a form action absolute against the IdP's URL.
func (s *SAMLIdPServer) resolve(t testing.TB, action string) string {
	t.Helper()
	base, err := url.Parse(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	u, err := base.Parse(action)
	if err != nil {
		t.Fatalf("testenv: samlidp form action %q: %v", action, err)
	}
	return u.String()
}

// samlExchange is one HTTP exchange, read in full.
type samlExchange struct {
	status int
	body   []byte
}

func (s *SAMLIdPServer) exchange(t testing.TB, b *http.Client, method, target, contentType string, body []byte) samlExchange {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), samlIdPTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		t.Fatalf("testenv: samlidp %s %s: %v", method, target, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := b.Do(req)
	if err != nil {
		t.Fatalf("testenv: samlidp %s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("testenv: samlidp %s %s: %v", method, target, err)
	}
	return samlExchange{status: res.StatusCode, body: data}
}

// parseSAMLForm reads the first form of an (X)HTML page: its action and
// its hidden inputs.
func parseSAMLForm(t testing.TB, page []byte) SAMLForm {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var f SAMLForm
	inForm := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("testenv: samlidp page: %v\n%s", err, page)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			attr := func(name string) string {
				for _, a := range el.Attr {
					if strings.EqualFold(a.Name.Local, name) {
						return a.Value
					}
				}
				return ""
			}
			switch strings.ToLower(el.Name.Local) {
			case "form":
				if !inForm && f.Fields == nil {
					inForm = true
					f = SAMLForm{Action: attr("action"), Fields: url.Values{}}
				}
			case "input":
				if inForm && strings.EqualFold(attr("type"), "hidden") && attr("name") != "" {
					f.Fields.Add(attr("name"), attr("value"))
				}
			}
		case xml.EndElement:
			if strings.EqualFold(el.Name.Local, "form") {
				inForm = false
			}
		}
	}
	if f.Fields == nil {
		t.Fatalf("testenv: samlidp page has no form:\n%s", page)
	}
	return f
}

// samlSigningPair makes an RSA key and a self-signed certificate for it,
// valid from an hour ago for a day.
func samlSigningPair(cn string) (*rsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// samlTestLogger sends samlidp's log lines to the test log until the
// test's cleanup, and drops them after (a late timer must not log to a
// finished test).
type samlTestLogger struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (l *samlTestLogger) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

func (l *samlTestLogger) log(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Log("samlidp: " + strings.TrimRight(s, "\n"))
	}
}

func (l *samlTestLogger) Printf(format string, v ...any) { l.log(fmt.Sprintf(format, v...)) }
func (l *samlTestLogger) Print(v ...any)                 { l.log(fmt.Sprint(v...)) }
func (l *samlTestLogger) Println(v ...any)               { l.log(fmt.Sprintln(v...)) }
func (l *samlTestLogger) Fatal(v ...any)                 { l.fail(fmt.Sprint(v...)) }
func (l *samlTestLogger) Fatalf(format string, v ...any) { l.fail(fmt.Sprintf(format, v...)) }
func (l *samlTestLogger) Fatalln(v ...any)               { l.fail(fmt.Sprintln(v...)) }
func (l *samlTestLogger) Panic(v ...any)                 { l.fail(fmt.Sprint(v...)) }
func (l *samlTestLogger) Panicf(format string, v ...any) { l.fail(fmt.Sprintf(format, v...)) }
func (l *samlTestLogger) Panicln(v ...any)               { l.fail(fmt.Sprintln(v...)) }

// fail records a fatal message from samlidp as a test error; it must not
// exit the test binary or panic in a server goroutine.
func (l *samlTestLogger) fail(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Error("samlidp: " + strings.TrimRight(s, "\n"))
	}
}
