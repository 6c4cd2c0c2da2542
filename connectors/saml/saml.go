package saml

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	crewsaml "github.com/crewjam/saml"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/storage"
)

// TypeName is the connector type of the SAML connector.
const TypeName = "saml"

// Type registers the SAML connector.
var Type = connectors.TypeFor(func(c Config, env connectors.Env) (*Connector, error) { return Open(c, env) })

// Option adjusts a connector at Open.
type Option func(*Connector)

// WithClock sets the clock the connector checks validity times with (and
// that signs its requests' IssueInstant). Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *Connector) { c.now = now }
}

// Open returns a SAML connector. It reads the files the config names (IdP
// metadata, SP certificate and key) but contacts no one: metadata at a URL
// is fetched at the first login.
func Open(cfg Config, env connectors.Env, opts ...Option) (*Connector, error) {
	if ps := cfg.Validate(); len(ps) > 0 {
		return nil, fmt.Errorf("saml: invalid config: %s: %s", ps[0].Path, ps[0].Msg)
	}
	if env.Replay == nil {
		return nil, errors.New("saml: no replay cache: assertions could be replayed")
	}
	acs, err := url.Parse(env.CallbackURL)
	if err != nil || !acs.IsAbs() {
		return nil, fmt.Errorf("saml: callback URL %q is not absolute", env.CallbackURL)
	}
	c := &Connector{
		id: env.ID, acs: *acs, replay: env.Replay, now: time.Now,
		requireSigned: orDefault(cfg.RequireSigned, SignedEither),
		binding:       orDefault(cfg.Binding, BindingRedirect),
		ssoURL:        cfg.SSOURL,
		skew:          cfg.ClockSkew.Std(),
		usernameAttr:  orDefaultList(cfg.UsernameAttr, DefaultUsernameAttr),
		emailAttr:     orDefaultList(cfg.EmailAttr, DefaultEmailAttr),
		nameAttr:      orDefaultList(cfg.NameAttr, DefaultNameAttr),
		groupsAttr:    orDefaultList(cfg.GroupsAttr, DefaultGroupsAttr),
		allowedGroups: append([]string(nil), cfg.AllowedGroups...),
		emailVerified: cfg.EmailVerified,
		allowSHA1:     cfg.InsecureAllowSHA1,
		logger:        env.Logger,
	}
	for _, o := range opts {
		o(c)
	}
	if c.skew == 0 {
		c.skew = DefaultClockSkew
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	c.entityID = cfg.EntityID
	if c.entityID == "" {
		c.entityID = env.Issuer + "/saml/" + url.PathEscape(env.ID) + "/metadata"
	}
	if c.nameIDFormat, err = nameIDFormatURI(cfg.NameIDFormat); err != nil {
		return nil, fmt.Errorf("saml: nameIDFormat: %w", err)
	}
	c.dsigClock = dsig.NewFakeClock(funcClock{Clock: clockwork.NewRealClock(), now: c.now})
	switch {
	case cfg.IDPMetadataURL != "":
		client := env.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: metadataTimeout}
		}
		c.idp = newFetchedMetadata(cfg.IDPMetadataURL, client, c.now, c.logger)
	case cfg.IDPMetadataFile != "":
		data, err := os.ReadFile(cfg.IDPMetadataFile)
		if err != nil {
			return nil, fmt.Errorf("saml: idpMetadataFile: %w", err)
		}
		if c.idp, err = newFixedMetadata(data); err != nil {
			return nil, fmt.Errorf("saml: idpMetadataFile %s: %w", cfg.IDPMetadataFile, err)
		}
	default:
		if c.idp, err = newFixedMetadata([]byte(cfg.IDPMetadataData)); err != nil {
			return nil, fmt.Errorf("saml: idpMetadataData: %w", err)
		}
	}
	if cfg.SPCertFile != "" {
		if c.spKey, c.spCert, err = loadKeyPair(cfg.SPCertFile, cfg.SPKeyFile); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Connector is a SAML 2.0 service provider for one IdP. It is safe for
// concurrent use.
type Connector struct {
	id            string
	entityID      string
	acs           url.URL
	idp           *idpMetadata
	ssoURL        string
	binding       string
	requireSigned string
	nameIDFormat  string
	spKey         crypto.Signer
	spCert        *x509.Certificate
	skew          time.Duration
	usernameAttr  []string
	emailAttr     []string
	nameAttr      []string
	groupsAttr    []string
	allowedGroups []string
	emailVerified bool
	allowSHA1     bool
	replay        storage.ReplayCache
	now           func() time.Time
	dsigClock     *dsig.Clock
	logger        *slog.Logger
}

// EntityID returns the SP entity ID Foyer presents to the IdP.
func (c *Connector) EntityID() string { return c.entityID }

// serviceProvider returns a fresh crewjam service provider for one
// exchange with the IdP described by md.
func (c *Connector) serviceProvider(md *crewsaml.EntityDescriptor) *crewsaml.ServiceProvider {
	sp := &crewsaml.ServiceProvider{
		EntityID:                         c.entityID,
		AcsURL:                           c.acs,
		IDPMetadata:                      md,
		AuthnNameIDFormat:                crewsaml.NameIDFormat(c.nameIDFormat),
		SendUnspecifiedNameIDFormat:      true,
		AssertionConsumerServiceBindings: []string{crewsaml.HTTPPostBinding},
		MetadataOmitValidUntil:           true,
		RejectSHA1Signatures:             !c.allowSHA1,
		Clock:                            c.dsigClock,
	}
	if c.spKey != nil {
		sp.Key, sp.Certificate = c.spKey, c.spCert
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
		if _, ok := c.spKey.Public().(*ecdsa.PublicKey); ok {
			sp.SignatureMethod = dsig.ECDSASHA256SignatureMethod
		}
	}
	return sp
}

// loginState is the connector state kept with the auth request: the ID
// of the AuthnRequest, which the answer's InResponseTo must name.
type loginState struct {
	RequestID string `json:"rid"`
}

// authnRequest builds an AuthnRequest for binding (crewjam's binding URI).
func (c *Connector) authnRequest(ctx context.Context, binding string) (*crewsaml.ServiceProvider, *crewsaml.AuthnRequest, []byte, error) {
	md, err := c.idp.get(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	sso := c.ssoURL
	if sso == "" {
		sso = ssoLocation(md, binding)
	}
	if sso == "" {
		return nil, nil, nil, fmt.Errorf("saml: idp metadata of %q has no single sign-on endpoint for %s", md.EntityID, binding)
	}
	sp := c.serviceProvider(md)
	req, err := sp.MakeAuthenticationRequest(sso, binding, crewsaml.HTTPPostBinding)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("saml: authn request: %w", err)
	}
	state, err := json.Marshal(loginState{RequestID: req.ID})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("saml: connector state: %w", err)
	}
	return sp, req, state, nil
}

// LoginURL implements connectors.CallbackConnector: the IdP's single
// sign-on URL with the AuthnRequest in the HTTP-Redirect binding
// (saml-bindings-2.0-os §3.4), signed when the SP has a key, and state as
// RelayState.
func (c *Connector) LoginURL(ctx context.Context, _ connectors.Scopes, _, state string) (string, []byte, error) {
	sp, req, connState, err := c.authnRequest(ctx, crewsaml.HTTPRedirectBinding)
	if err != nil {
		return "", nil, err
	}
	u, err := req.Redirect(state, sp)
	if err != nil {
		return "", nil, fmt.Errorf("saml: redirect binding: %w", err)
	}
	return u.String(), connState, nil
}

// LoginForm implements connectors.FormConnector. With binding "post" it
// returns the IdP's single sign-on URL and the fields of the HTTP-POST
// binding (saml-bindings-2.0-os §3.5): SAMLRequest (signed when the SP has
// a key) and state as RelayState. With binding "redirect" it returns no
// action, and the gateway uses LoginURL.
func (c *Connector) LoginForm(ctx context.Context, _ connectors.Scopes, _, state string) (string, map[string]string, []byte, error) {
	if c.binding != BindingPost {
		return "", nil, nil, nil
	}
	_, req, connState, err := c.authnRequest(ctx, crewsaml.HTTPPostBinding)
	if err != nil {
		return "", nil, nil, err
	}
	raw, err := xmlBytes(req.Element())
	if err != nil {
		return "", nil, nil, fmt.Errorf("saml: post binding: %w", err)
	}
	return req.Destination, map[string]string{
		"SAMLRequest": base64.StdEncoding.EncodeToString(raw),
		"RelayState":  state,
	}, connState, nil
}

// Metadata returns the SP metadata document (saml-metadata-2.0-os §2.4.4):
// entity ID, the assertion consumer service (HTTP-POST at the callback
// URL), the NameID format and, with an SP key, its certificate.
func (c *Connector) Metadata() ([]byte, error) {
	md := c.serviceProvider(nil).Metadata()
	out, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saml: sp metadata: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}

// MetadataHandler serves the SP metadata, for the IdP's administrator to
// import (meant for /saml/{connector-id}/metadata, the default entity ID).
func (c *Connector) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		data, err := c.Metadata()
		if err != nil {
			c.logger.ErrorContext(r.Context(), "saml: sp metadata", "err", err)
			http.Error(w, "metadata unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(data)
	})
}

// loadKeyPair reads the SP certificate and private key (PEM: PKCS #8,
// PKCS #1 or SEC 1) and checks that they belong together.
func loadKeyPair(certFile, keyFile string) (crypto.Signer, *x509.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("saml: spCertFile: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("saml: spCertFile %s: no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("saml: spCertFile %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("saml: spKeyFile: %w", err)
	}
	block, _ = pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("saml: spKeyFile %s: no PEM key", keyFile)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		// The parse error says nothing of the key's bytes.
		return nil, nil, fmt.Errorf("saml: spKeyFile %s: %w", keyFile, err)
	}
	var signer crypto.Signer
	switch k := key.(type) {
	case *rsa.PrivateKey:
		signer = k
	case *ecdsa.PrivateKey:
		signer = k
	default:
		return nil, nil, fmt.Errorf("saml: spKeyFile %s: a %T cannot sign SAML requests; use RSA or ECDSA", keyFile, key)
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return nil, nil, fmt.Errorf("saml: spKeyFile %s does not match spCertFile %s", keyFile, certFile)
	}
	return signer, cert, nil
}

// funcClock is a clockwork.Clock whose time is a function, for goxmldsig's
// certificate validity checks.
type funcClock struct {
	clockwork.Clock
	now func() time.Time
}

func (c funcClock) Now() time.Time                  { return c.now() }
func (c funcClock) Since(t time.Time) time.Duration { return c.now().Sub(t) }
func (c funcClock) Until(t time.Time) time.Duration { return t.Sub(c.now()) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDefaultList(l, def []string) []string {
	if len(l) == 0 {
		return append([]string(nil), def...)
	}
	return append([]string(nil), l...)
}

// Interface guards.
var (
	_ connectors.CallbackConnector = (*Connector)(nil)
	_ connectors.FormConnector     = (*Connector)(nil)
)
