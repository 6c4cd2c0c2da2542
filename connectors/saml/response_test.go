package saml_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/saml"
	"github.com/foyerid/foyer/internal/testenv"
)

// TestValidResponse is the control for the refusals below: a response
// built the same way, untouched, is accepted and mapped.
func TestValidResponse(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	u := newUnit(t, idp)
	connState, rid := u.start(t)
	f := u.forge(rid)
	id, err := u.post(connState, u.signedAssertion(t, f, f.assertion()))
	if err != nil {
		t.Fatalf("valid response refused: %v", err)
	}
	want := connectors.Identity{
		Subject: "u-alice", Email: "alice@example.com", Name: "Alice Liddell", Username: "alice",
		Groups: []string{"admins", "dev"},
	}
	if id.Subject != want.Subject || id.Email != want.Email || id.EmailVerified || id.Name != want.Name ||
		id.Username != want.Username || !slices.Equal(id.Groups, want.Groups) {
		t.Errorf("identity %+v, want %+v", id, want)
	}
}

// TestRefusedResponses posts responses that must each be refused with
// ErrInvalidResponse (and crewjam's reason, where it has one).
func TestRefusedResponses(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	evil := otherSigner(t)
	tests := []struct {
		name string
		// build returns the response XML for the request f answers.
		build func(t *testing.T, u *unit, f forge) []byte
		also  error // a further error the refusal must match, if any
	}{
		{
			name: "unsigned assertion",
			build: func(t *testing.T, _ *unit, f forge) []byte {
				return doc(t, f.response(f.assertion().Element()))
			},
		},
		{
			name: "tampered assertion (attribute changed after signing)",
			build: func(t *testing.T, u *unit, f forge) []byte {
				signed := u.idpSigner().sign(t, f.assertion().Element())
				for _, v := range signed.FindElements(".//AttributeValue") {
					if v.Text() == "alice@example.com" {
						v.SetText("mallory@example.com")
					}
				}
				return doc(t, f.response(signed))
			},
			also: crewsaml.ErrInvalidSignature,
		},
		{
			name: "tampered signed response (NameID changed after signing)",
			build: func(t *testing.T, u *unit, f forge) []byte {
				resp := u.idpSigner().sign(t, f.response(f.assertion().Element()))
				resp.FindElement(".//NameID").SetText("u-mallory")
				return doc(t, resp)
			},
			also: crewsaml.ErrInvalidSignature,
		},
		{
			name: "signature wrapping: evil assertion first, signed one after",
			build: func(t *testing.T, u *unit, f forge) []byte {
				good := u.idpSigner().sign(t, f.assertion().Element())
				bad := f.assertion()
				bad.Subject.NameID.Value = "u-mallory"
				return doc(t, f.response(bad.Element(), good))
			},
		},
		{
			name: "signature wrapping: signed assertion hidden inside the evil one",
			build: func(t *testing.T, u *unit, f forge) []byte {
				good := u.idpSigner().sign(t, f.assertion().Element())
				bad := f.assertion()
				bad.ID = good.SelectAttrValue("ID", "")
				bad.Subject.NameID.Value = "u-mallory"
				badEl := bad.Element()
				// The evil copy carries the original's signature, and the
				// original sits inside it where a careless reader skips it.
				sig := good.FindElement("./Signature").Copy()
				badEl.InsertChildAt(1, sig)
				badEl.AddChild(good)
				return doc(t, f.response(badEl))
			},
		},
		{
			name: "signature wrapping: signed assertion moved into the response's Extensions",
			build: func(t *testing.T, u *unit, f forge) []byte {
				good := u.idpSigner().sign(t, f.assertion().Element())
				bad := f.assertion()
				bad.Subject.NameID.Value = "u-mallory"
				resp := f.response(bad.Element())
				ext := etree.NewElement("samlp:Extensions")
				ext.AddChild(good)
				resp.InsertChildAt(1, ext)
				return doc(t, resp)
			},
		},
		{
			name: "wrong audience",
			build: func(t *testing.T, u *unit, f forge) []byte {
				a := f.assertion()
				a.Conditions.AudienceRestrictions[0].Audience.Value = "https://other-sp.example/metadata"
				return u.signedAssertion(t, f, a)
			},
			also: crewsaml.ErrAudienceMismatch,
		},
		{
			name: "expired assertion",
			build: func(t *testing.T, u *unit, f forge) []byte {
				f.now = f.now.Add(-10 * time.Minute)
				return u.signedAssertion(t, f, f.assertion())
			},
			also: crewsaml.ErrExpired,
		},
		{
			name: "assertion not yet valid beyond the skew",
			build: func(t *testing.T, u *unit, f forge) []byte {
				a := f.assertion()
				a.Conditions.NotBefore = f.now.Add(2 * time.Minute) // inside crewjam's 3m, outside our 90s
				return u.signedAssertion(t, f, a)
			},
		},
		{
			name: "unknown InResponseTo",
			build: func(t *testing.T, u *unit, f forge) []byte {
				f.requestID = "id-not-ours"
				return u.signedAssertion(t, f, f.assertion())
			},
			also: crewsaml.ErrRequestIDMismatch,
		},
		{
			name: "assertion InResponseTo differs from the response's",
			build: func(t *testing.T, u *unit, f forge) []byte {
				a := f.assertion()
				a.Subject.SubjectConfirmations[0].SubjectConfirmationData.InResponseTo = "id-other"
				return u.signedAssertion(t, f, a)
			},
			also: crewsaml.ErrRequestIDMismatch,
		},
		{
			name: "signed by a certificate not in the IdP metadata",
			build: func(t *testing.T, _ *unit, f forge) []byte {
				return doc(t, f.response(evil.sign(t, f.assertion().Element())))
			},
			also: crewsaml.ErrInvalidSignature,
		},
		{
			name: "response signed by a certificate not in the IdP metadata",
			build: func(t *testing.T, _ *unit, f forge) []byte {
				return doc(t, evil.sign(t, f.response(f.assertion().Element())))
			},
			also: crewsaml.ErrInvalidSignature,
		},
		{
			name: "wrong recipient",
			build: func(t *testing.T, u *unit, f forge) []byte {
				a := f.assertion()
				a.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient = "https://other-sp.example/acs"
				return u.signedAssertion(t, f, a)
			},
			also: crewsaml.ErrDestinationMismatch,
		},
		{
			name: "wrong destination",
			build: func(t *testing.T, u *unit, f forge) []byte {
				resp := f.response(u.idpSigner().sign(t, f.assertion().Element()))
				resp.CreateAttr("Destination", "https://other-sp.example/acs")
				return doc(t, resp)
			},
			also: crewsaml.ErrDestinationMismatch,
		},
		{
			name: "issued by another IdP",
			build: func(t *testing.T, u *unit, f forge) []byte {
				f.idpID = "https://other-idp.example/metadata"
				return u.signedAssertion(t, f, f.assertion())
			},
			also: crewsaml.ErrIssuerMismatch,
		},
		{
			name: "transient NameID",
			build: func(t *testing.T, u *unit, f forge) []byte {
				a := f.assertion()
				a.Subject.NameID.Format = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
				return u.signedAssertion(t, f, a)
			},
		},
		{
			// A name with two colons is what encoding/xml once decoded and
			// re-encoded differently (CVE-2020-29511); the round-trip
			// check refuses the document before anything reads it.
			name: "XML that does not survive a round trip",
			build: func(t *testing.T, u *unit, f forge) []byte {
				raw := string(u.signedAssertion(t, f, f.assertion()))
				return []byte(strings.Replace(raw, "<samlp:Status>", "<x:y:Ext xmlns:x=\"urn:x\"/><samlp:Status>", 1))
			},
			also: crewsaml.ErrMalformedMessage,
		},
		{
			name:  "not XML",
			build: func(*testing.T, *unit, forge) []byte { return []byte("not xml at all <") },
		},
		{
			name:  "empty document",
			build: func(*testing.T, *unit, forge) []byte { return []byte(`<?xml version="1.0"?>`) },
		},
		{
			name: "an assertion instead of a response",
			build: func(t *testing.T, u *unit, f forge) []byte {
				return doc(t, u.idpSigner().sign(t, f.assertion().Element()))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := newUnit(t, idp)
			connState, rid := u.start(t)
			id, err := u.post(connState, tt.build(t, u, u.forge(rid)))
			if err == nil {
				t.Fatalf("accepted: %+v", id)
			}
			if !errors.Is(err, saml.ErrInvalidResponse) {
				t.Errorf("err = %v, want ErrInvalidResponse", err)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("err = %v, want it to match %v too", err, tt.also)
			}
			t.Logf("refused: %v", err)
			if id.Subject != "" {
				t.Errorf("identity returned with the refusal: %+v", id)
			}
		})
	}
}

func TestReplayedAssertion(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	u := newUnit(t, idp)
	connState, rid := u.start(t)
	f := u.forge(rid)
	resp := u.signedAssertion(t, f, f.assertion())
	if _, err := u.post(connState, resp); err != nil {
		t.Fatalf("first use refused: %v", err)
	}
	u.clock.Advance(5 * time.Second)
	_, err := u.post(connState, resp)
	if !errors.Is(err, saml.ErrInvalidResponse) || !errors.Is(err, crewsaml.ErrAssertionReplayed) {
		t.Fatalf("replay: err = %v, want ErrInvalidResponse and ErrAssertionReplayed", err)
	}
	// Another connector (another IdP) may see the same assertion ID: the
	// replay cache keys by connector.
}

func TestRequireSigned(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	// How the IdP signed: the response, the assertion, or both.
	signedResponse := func(t *testing.T, u *unit, f forge) []byte {
		return doc(t, u.idpSigner().sign(t, f.response(f.assertion().Element())))
	}
	signedAssertion := func(t *testing.T, u *unit, f forge) []byte {
		return u.signedAssertion(t, f, f.assertion())
	}
	signedBoth := func(t *testing.T, u *unit, f forge) []byte {
		return doc(t, u.idpSigner().sign(t, f.response(u.idpSigner().sign(t, f.assertion().Element()))))
	}
	tests := []struct {
		name    string
		require string
		build   func(*testing.T, *unit, forge) []byte
		ok      bool
	}{
		{name: "either, response signed", require: "", build: signedResponse, ok: true},
		{name: "either, assertion signed", require: saml.SignedEither, build: signedAssertion, ok: true},
		{name: "response required, response signed", require: saml.SignedResponse, build: signedResponse, ok: true},
		{name: "response required, only assertion signed", require: saml.SignedResponse, build: signedAssertion},
		{name: "assertion required, assertion signed", require: saml.SignedAssertion, build: signedAssertion, ok: true},
		{name: "assertion required, only response signed", require: saml.SignedAssertion, build: signedResponse},
		{name: "assertion required, both signed", require: saml.SignedAssertion, build: signedBoth, ok: true},
		{name: "response required, both signed", require: saml.SignedResponse, build: signedBoth, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := newUnit(t, idp, func(c *saml.Config) { c.RequireSigned = tt.require })
			connState, rid := u.start(t)
			id, err := u.post(connState, tt.build(t, u, u.forge(rid)))
			switch {
			case tt.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.ok && id.Subject != "u-alice":
				t.Fatalf("subject %q", id.Subject)
			case !tt.ok && !errors.Is(err, saml.ErrInvalidResponse):
				t.Fatalf("err = %v, want ErrInvalidResponse", err)
			}
		})
	}
}

func TestClockSkew(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	tests := []struct {
		name     string
		skew     time.Duration
		shift    time.Duration // how far the IdP's clock is ahead of ours
		accepted bool
	}{
		{name: "default skew, IdP 60s ahead", shift: time.Minute, accepted: true},
		{name: "default skew, IdP 2m ahead", shift: 2 * time.Minute},
		{name: "3m skew, IdP 2m ahead", skew: 3 * time.Minute, shift: 2 * time.Minute, accepted: true},
		{name: "10s skew, IdP 60s ahead", skew: 10 * time.Second, shift: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := newUnit(t, idp, func(c *saml.Config) { c.ClockSkew = durationOf(tt.skew) })
			connState, rid := u.start(t)
			f := u.forge(rid)
			f.now = f.now.Add(tt.shift)
			a := f.assertion()
			a.Conditions.NotBefore = f.now // the IdP's "now", ahead of ours
			_, err := u.post(connState, u.signedAssertion(t, f, a))
			if tt.accepted && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.accepted && !errors.Is(err, saml.ErrInvalidResponse) {
				t.Fatalf("err = %v, want ErrInvalidResponse", err)
			}
		})
	}
}

func TestPolicyAndStatus(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)

	t.Run("not in an allowed group", func(t *testing.T) {
		t.Parallel()
		u := newUnit(t, idp, func(c *saml.Config) { c.AllowedGroups = []string{"finance"} })
		connState, rid := u.start(t)
		f := u.forge(rid)
		_, err := u.post(connState, u.signedAssertion(t, f, f.assertion()))
		var refusal *connectors.Refusal
		if !errors.As(err, &refusal) || refusal.Reason == "" {
			t.Fatalf("err = %v, want a *connectors.Refusal", err)
		}
	})
	t.Run("in an allowed group, email verified by the operator", func(t *testing.T) {
		t.Parallel()
		u := newUnit(t, idp, func(c *saml.Config) {
			c.AllowedGroups = []string{"finance", "dev"}
			c.EmailVerified = true
		})
		connState, rid := u.start(t)
		f := u.forge(rid)
		id, err := u.post(connState, u.signedAssertion(t, f, f.assertion()))
		if err != nil || !id.EmailVerified {
			t.Fatalf("err %v, email verified %t", err, id.EmailVerified)
		}
	})
	t.Run("attribute names configured, email from the NameID", func(t *testing.T) {
		t.Parallel()
		u := newUnit(t, idp, func(c *saml.Config) {
			c.UsernameAttr, c.EmailAttr, c.NameAttr = []string{"login"}, []string{"no-such"}, []string{"cn", "displayName"}
		})
		connState, rid := u.start(t)
		f := u.forge(rid)
		a := f.assertion()
		a.Subject.NameID = &crewsaml.NameID{Format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", Value: "a@example.org"}
		st := &a.AttributeStatements[0]
		st.Attributes = append(st.Attributes, crewsaml.Attribute{FriendlyName: "login", Name: "urn:x:login",
			Values: []crewsaml.AttributeValue{{Value: "  "}, {Value: "al"}}})
		id, err := u.post(connState, u.signedAssertion(t, f, a))
		if err != nil {
			t.Fatal(err)
		}
		if id.Username != "al" || id.Email != "a@example.org" || id.Name != "Alice Liddell" || id.EmailVerified {
			t.Errorf("identity %+v", id)
		}
	})
	t.Run("IdP error status", func(t *testing.T) {
		t.Parallel()
		u := newUnit(t, idp)
		connState, rid := u.start(t)
		f := u.forge(rid)
		resp := f.response()
		resp.FindElement(".//StatusCode").CreateAttr("Value", crewsaml.StatusResponder)
		_, err := u.post(connState, doc(t, resp))
		var up *connectors.UpstreamError
		if !errors.As(err, &up) || up.Code != crewsaml.StatusResponder {
			t.Fatalf("err = %v, want an UpstreamError with the status", err)
		}
	})
}

// TestMalformedCallbacks sends callbacks that are not SAML responses at
// all; none may panic or be accepted.
func TestMalformedCallbacks(t *testing.T) {
	t.Parallel()
	idp := testenv.SAMLIdP(t)
	u := newUnit(t, idp)
	connState, _ := u.start(t)
	tests := []struct {
		name      string
		connState []byte
		form      url.Values
	}{
		{name: "no SAMLResponse", connState: connState, form: url.Values{"RelayState": {"relay"}}},
		{name: "not base64", connState: connState, form: url.Values{"SAMLResponse": {"%%%"}}},
		{name: "artifact binding", connState: connState, form: url.Values{"SAMLResponse": {"PHg+"}, "SAMLart": {"AAQAAA"}}},
		{name: "simple-sign binding", connState: connState, form: url.Values{"SAMLResponse": {"PHg+"}, "SigAlg": {"x"}, "Signature": {"y"}}},
		{name: "no connector state", connState: nil, form: url.Values{"SAMLResponse": {"PHg+"}}},
		{name: "garbage connector state", connState: []byte("{"), form: url.Values{"SAMLResponse": {"PHg+"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := u.postForm(tt.connState, tt.form)
			if !errors.Is(err, saml.ErrInvalidResponse) {
				t.Fatalf("err = %v, want ErrInvalidResponse", err)
			}
		})
	}
}
