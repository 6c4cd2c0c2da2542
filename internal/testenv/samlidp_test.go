package testenv

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

// testSP is a bare crewjam service provider that trusts idp.
func testSP(t *testing.T, idp *SAMLIdPServer) *saml.ServiceProvider {
	t.Helper()
	var md saml.EntityDescriptor
	if err := xml.Unmarshal(idp.Metadata, &md); err != nil {
		t.Fatalf("idp metadata: %v", err)
	}
	acs, err := url.Parse("https://sp.example/acs")
	if err != nil {
		t.Fatal(err)
	}
	return &saml.ServiceProvider{
		EntityID: "https://sp.example/metadata", AcsURL: *acs, IDPMetadata: &md,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
	}
}

func jarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar: jar, Timeout: samlIdPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// assertionFor checks the IdP's response form as the service provider
// would, and returns the assertion.
func assertionFor(t *testing.T, sp *saml.ServiceProvider, f SAMLForm, requestID string) *saml.Assertion {
	t.Helper()
	if f.Action != sp.AcsURL.String() {
		t.Fatalf("form posts to %q, want the ACS %q", f.Action, sp.AcsURL.String())
	}
	raw, err := base64.StdEncoding.DecodeString(f.Fields.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := sp.ParseXMLResponse(raw, []string{requestID}, sp.AcsURL)
	if err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) {
			err = ire.PrivateErr
		}
		t.Fatalf("parse response: %v", err)
	}
	return a
}

func attrValues(a *saml.Assertion, friendly string) []string {
	var out []string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.FriendlyName == friendly {
				for _, v := range at.Values {
					out = append(out, v.Value)
				}
			}
		}
	}
	return out
}

func TestSAMLIdP(t *testing.T) {
	t.Parallel()
	idp := SAMLIdP(t, SAMLUser{Username: "alice", Password: "pw-alice", Email: "alice@example.com", Name: "Alice", Groups: []string{"admins", "dev"}})
	if idp.Certificate == nil || idp.Key == nil || len(idp.CertificatePEM) == 0 {
		t.Fatal("no signing key or certificate")
	}
	sp := testSP(t, idp)
	if sp.IDPMetadata.EntityID != idp.MetadataURL {
		t.Fatalf("entity ID %q, want %q", sp.IDPMetadata.EntityID, idp.MetadataURL)
	}
	if got := sp.GetSSOBindingLocation(saml.HTTPRedirectBinding); got != idp.SSOURL {
		t.Fatalf("redirect SSO location %q, want %q", got, idp.SSOURL)
	}
	spMD, err := xml.Marshal(sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	idp.RegisterSP(t, "sp", spMD)

	t.Run("redirect binding with the login form", func(t *testing.T) {
		req, err := sp.MakeAuthenticationRequest(idp.SSOURL, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		u, err := req.Redirect("relay-1", sp)
		if err != nil {
			t.Fatal(err)
		}
		f := idp.SSO(t, jarClient(t), u.String(), nil, "alice", "pw-alice")
		if f.Fields.Get("RelayState") != "relay-1" {
			t.Errorf("RelayState %q", f.Fields.Get("RelayState"))
		}
		a := assertionFor(t, sp, f, req.ID)
		if a.Subject.NameID.Value != "alice@example.com" || a.Subject.NameID.Format != string(saml.EmailAddressNameIDFormat) {
			t.Errorf("NameID %+v", a.Subject.NameID)
		}
		if got := attrValues(a, "uid"); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("uid %v", got)
		}
		if got := attrValues(a, "eduPersonAffiliation"); !slices.Equal(got, []string{"admins", "dev"}) {
			t.Errorf("groups %v", got)
		}
		if got := attrValues(a, "cn"); !slices.Equal(got, []string{"Alice"}) {
			t.Errorf("cn %v", got)
		}
	})

	t.Run("post binding with a session", func(t *testing.T) {
		b := jarClient(t)
		idp.LoginSession(t, b, "alice", "pw-alice")
		req, err := sp.MakeAuthenticationRequest(idp.SSOURL, saml.HTTPPostBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := xml.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"relay-2"}}
		f := idp.SSO(t, b, idp.SSOURL, form, "", "")
		a := assertionFor(t, sp, f, req.ID)
		if a.Subject.NameID.Value != "alice@example.com" {
			t.Errorf("NameID %+v", a.Subject.NameID)
		}
		if !a.IssueInstant.After(time.Now().Add(-time.Minute)) {
			t.Errorf("IssueInstant %v", a.IssueInstant)
		}
	})
}
