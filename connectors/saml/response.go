package saml

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/storage"
)

// ErrInvalidResponse is wrapped by every refusal of the IdP's answer that
// is not the IdP's own error status nor a policy refusal: a missing,
// malformed, unsigned, tampered, misaddressed, expired or replayed
// response. The wrapped detail is for the log only.
var ErrInvalidResponse = errors.New("saml: invalid response")

// XML namespaces (saml-core-2.0-os §1.2).
const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	// bearer is the subject confirmation method of web browser SSO
	// (saml-profiles-2.0-os §3.3, §4.1.4.2).
	bearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrInvalidResponse, fmt.Errorf(format, args...))
}

// HandleCallback implements connectors.CallbackConnector: it checks the
// Response the browser posted (HTTP-POST binding, saml-bindings-2.0-os
// §3.5) and maps its assertion to an identity.
//
// crewjam/saml does the protocol checks: the XML is refused unless it
// survives an encoding/xml round trip unchanged; signatures are checked
// against the IdP metadata's certificates and the message is read from
// what the signature covers (so a wrapped, unsigned copy is never read);
// issuer, destination, InResponseTo, recipient, audience, validity times
// and one use of the assertion (our replay cache) are checked. Then this
// connector checks which element was signed, the validity times again
// with its own skew, and the NameID.
func (c *Connector) HandleCallback(ctx context.Context, _ connectors.Scopes, connState []byte, r *http.Request) (connectors.Identity, error) {
	var st loginState
	if err := json.Unmarshal(connState, &st); err != nil || st.RequestID == "" {
		return connectors.Identity{}, invalid("no AuthnRequest ID in the connector state")
	}
	if r.Method != http.MethodPost {
		return connectors.Identity{}, invalid("response sent by %s, not by the HTTP-POST binding", r.Method)
	}
	if err := r.ParseForm(); err != nil {
		return connectors.Identity{}, invalid("read form: %w", err)
	}
	switch {
	case r.PostForm.Get("SAMLResponse") == "":
		return connectors.Identity{}, invalid("no SAMLResponse")
	case r.Form.Has("SAMLart"):
		// Resolving an artifact would make Foyer call the IdP back.
		return connectors.Identity{}, invalid("the HTTP-Artifact binding is not supported")
	case r.PostForm.Has("SigAlg") || r.PostForm.Has("Signature"):
		return connectors.Identity{}, invalid("the HTTP-POST-SimpleSign binding is not supported")
	}
	md, err := c.idp.get(ctx)
	if err != nil {
		return connectors.Identity{}, err
	}
	sp := c.serviceProvider(md)
	sigs := &signatures{}
	sp.SignatureVerifier = sigs
	sp.ReplayCache = replayCache{ctx: ctx, cache: c.replay, prefix: "saml:" + c.id + ":"}

	a, err := sp.ParseResponse(r, []string{st.RequestID})
	if err != nil {
		var ire *crewsaml.InvalidResponseError
		if errors.As(err, &ire) && ire.PrivateErr != nil {
			err = ire.PrivateErr
		}
		var status crewsaml.ErrBadStatus
		if errors.As(err, &status) {
			c.logger.InfoContext(ctx, "saml: idp answered with an error status", "status", status.Status)
			return connectors.Identity{}, &connectors.UpstreamError{Code: status.Status, Description: "the identity provider did not log the person in"}
		}
		return connectors.Identity{}, fmt.Errorf("%w: %w", ErrInvalidResponse, err)
	}
	if err := sigs.check(c.requireSigned, a.ID); err != nil {
		return connectors.Identity{}, err
	}
	if err := c.checkTimes(a, st.RequestID); err != nil {
		return connectors.Identity{}, err
	}
	return c.identity(a)
}

// checkTimes checks the assertion's validity times against the
// connector's clock and skew (crewjam/saml allows a fixed, wider skew),
// and that a bearer confirmation for this ACS and request is still valid.
func (c *Connector) checkTimes(a *crewsaml.Assertion, requestID string) error {
	now, skew := c.now(), c.skew
	notYet := func(t time.Time) bool { return !t.IsZero() && t.After(now.Add(skew)) }
	over := func(t time.Time) bool { return !now.Add(-skew).Before(t) } // now-skew >= NotOnOrAfter
	switch {
	case notYet(a.IssueInstant):
		return invalid("assertion issued in the future (%s)", a.IssueInstant)
	case a.Conditions == nil:
		return invalid("assertion has no Conditions")
	case notYet(a.Conditions.NotBefore):
		return invalid("assertion not valid before %s", a.Conditions.NotBefore)
	case !a.Conditions.NotOnOrAfter.IsZero() && over(a.Conditions.NotOnOrAfter):
		return invalid("assertion expired at %s", a.Conditions.NotOnOrAfter)
	case a.Subject == nil:
		return invalid("assertion has no Subject")
	}
	for _, sc := range a.Subject.SubjectConfirmations {
		d := sc.SubjectConfirmationData
		if sc.Method != bearer || d == nil || d.Recipient != c.acs.String() || d.InResponseTo != requestID {
			continue
		}
		if !notYet(d.NotBefore) && !d.NotOnOrAfter.IsZero() && !over(d.NotOnOrAfter) {
			return nil
		}
	}
	return invalid("no valid bearer SubjectConfirmation for %s and request %s", c.acs.String(), requestID)
}

// identity maps the assertion's NameID and attributes to an identity and
// applies allowedGroups.
func (c *Connector) identity(a *crewsaml.Assertion) (connectors.Identity, error) {
	nid := a.Subject.NameID
	if nid == nil || strings.TrimSpace(nid.Value) == "" {
		return connectors.Identity{}, invalid("assertion has no NameID")
	}
	if nid.Format == transientNameIDFormat {
		return connectors.Identity{}, invalid("the NameID is transient and cannot identify a person; configure the IdP to send a persistent NameID")
	}
	id := connectors.Identity{
		Subject:  nid.Value,
		Email:    firstValue(a, c.emailAttr),
		Name:     firstValue(a, c.nameAttr),
		Username: firstValue(a, c.usernameAttr),
		Groups:   allValues(a, c.groupsAttr),
	}
	if id.Email == "" && nid.Format == nameIDFormats["emailAddress"] {
		id.Email = nid.Value
	}
	id.EmailVerified = c.emailVerified && id.Email != ""
	if len(c.allowedGroups) > 0 && !slices.ContainsFunc(id.Groups, func(g string) bool { return slices.Contains(c.allowedGroups, g) }) {
		return connectors.Identity{}, &connectors.Refusal{
			Reason: "Your account is not in a group allowed to log in here.",
			Detail: fmt.Sprintf("subject %q is in none of the allowed groups", id.Subject),
		}
	}
	return id, nil
}

// attrMatches reports whether an attribute is one of names, by its Name
// or its FriendlyName.
func attrMatches(at crewsaml.Attribute, name string) bool {
	return at.Name == name || (at.FriendlyName != "" && at.FriendlyName == name)
}

// firstValue returns the first non-empty value of the first of names the
// assertion has.
func firstValue(a *crewsaml.Assertion, names []string) string {
	for _, name := range names {
		for _, st := range a.AttributeStatements {
			for _, at := range st.Attributes {
				if !attrMatches(at, name) {
					continue
				}
				for _, v := range at.Values {
					if s := strings.TrimSpace(v.Value); s != "" {
						return s
					}
				}
			}
		}
	}
	return ""
}

// allValues returns every distinct non-empty value of any of names.
func allValues(a *crewsaml.Assertion, names []string) []string {
	var out []string
	for _, name := range names {
		for _, st := range a.AttributeStatements {
			for _, at := range st.Attributes {
				if !attrMatches(at, name) {
					continue
				}
				for _, v := range at.Values {
					if s := strings.TrimSpace(v.Value); s != "" && !slices.Contains(out, s) {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// signatures verifies XML signatures for crewjam/saml (it is the service
// provider's SignatureVerifier) exactly as crewjam would, and records
// which Response and Assertion elements carried a valid one, so that
// requireSigned can be enforced and the assertion read is known to be a
// signed one. One is used per response; it is not safe for concurrent use.
type signatures struct {
	response   bool
	assertions []string // IDs of the assertions with a valid signature
}

// VerifySignature implements crewsaml.SignatureVerifier.
func (s *signatures) VerifySignature(vc *dsig.ValidationContext, el *etree.Element) error {
	_, err := s.VerifySignedElement(vc, el)
	return err
}

// VerifySignedElement implements crewsaml.SignedElementVerifier: it
// returns what the signature covers, which crewjam then reads the message
// from. vc trusts only the IdP metadata's signing certificates.
func (s *signatures) VerifySignedElement(vc *dsig.ValidationContext, el *etree.Element) (*etree.Element, error) {
	signed, err := vc.Validate(el)
	if err != nil && el.FindElement("./Signature/KeyInfo") == nil {
		// Without a certificate in the signature, goxmldsig can only pick
		// the key when it trusts one certificate: during an IdP key
		// rollover the metadata lists several, so try each alone.
		roots, rerr := vc.CertificateStore.Certificates()
		if rerr == nil && len(roots) > 1 {
			signed, err = validateWithEach(vc, roots, el)
		}
	}
	if err != nil {
		return nil, err
	}
	id := signed.SelectAttrValue("ID", "")
	switch {
	case signed.Tag == "Response" && signed.NamespaceURI() == nsProtocol:
		s.response = true
	case signed.Tag == "Assertion" && signed.NamespaceURI() == nsAssertion && id != "":
		s.assertions = append(s.assertions, id)
	}
	return signed, nil
}

func validateWithEach(base *dsig.ValidationContext, roots []*x509.Certificate, el *etree.Element) (*etree.Element, error) {
	var err error
	for _, cert := range roots {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		vc.IdAttribute, vc.Clock = base.IdAttribute, base.Clock
		var signed *etree.Element
		if signed, err = vc.Validate(el); err == nil {
			return signed, nil
		}
	}
	return nil, err
}

// check enforces requireSigned for the assertion crewjam returned.
func (s *signatures) check(require, assertionID string) error {
	assertion := slices.Contains(s.assertions, assertionID)
	switch {
	case require == SignedResponse && !s.response:
		return invalid("the Response is not signed (requireSigned: response)")
	case require == SignedAssertion && !assertion:
		return invalid("assertion %q is not signed (requireSigned: assertion)", assertionID)
	case !s.response && !assertion:
		return invalid("neither the Response nor assertion %q is signed", assertionID)
	}
	return nil
}

// replayCache remembers assertion IDs in the store until the assertion
// expires (crewsaml.AssertionReplayCache).
type replayCache struct {
	ctx    context.Context
	cache  storage.ReplayCache
	prefix string
}

// Consume implements crewsaml.AssertionReplayCache.
func (r replayCache) Consume(id string, expiresAt time.Time) error {
	err := r.cache.Remember(r.ctx, r.prefix+id, expiresAt)
	if errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("%w: %w", crewsaml.ErrAssertionReplayed, err)
	}
	if err != nil {
		return fmt.Errorf("saml: remember assertion id: %w", err)
	}
	return nil
}

// xmlBytes serialises an element as a document.
func xmlBytes(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	return doc.WriteToBytes()
}
