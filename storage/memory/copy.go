package memory

import (
	"bytes"
	"slices"

	"github.com/foyerid/foyer/storage"
)

// The copy helpers deep-copy records so that no slice is shared between the
// store and its callers. slices.Clone and bytes.Clone keep nil as nil and
// empty as empty.

func copyClaims(c storage.Claims) storage.Claims {
	c.Groups = slices.Clone(c.Groups)
	return c
}

func copyUser(u storage.User) storage.User {
	u.Groups = slices.Clone(u.Groups)
	return u
}

func copyIdentity(i storage.Identity) storage.Identity {
	i.Claims = copyClaims(i.Claims)
	i.ConnectorData = bytes.Clone(i.ConnectorData)
	return i
}

func copyClient(c storage.Client) storage.Client {
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.AllowedConnectors = slices.Clone(c.AllowedConnectors)
	return c
}

func copyConnector(c storage.ConnectorConfig) storage.ConnectorConfig {
	c.Config = bytes.Clone(c.Config)
	return c
}

func copyConsent(c storage.Consent) storage.Consent {
	c.Scopes = slices.Clone(c.Scopes)
	return c
}

func copyLogin(l storage.Login) storage.Login {
	l.Claims = copyClaims(l.Claims)
	l.ConnectorData = bytes.Clone(l.ConnectorData)
	l.AMR = slices.Clone(l.AMR)
	return l
}

func copyLoginPtr(l *storage.Login) *storage.Login {
	if l == nil {
		return nil
	}
	c := copyLogin(*l)
	return &c
}

func copyAuthRequest(r storage.AuthRequest) storage.AuthRequest {
	r.Scopes = slices.Clone(r.Scopes)
	r.Prompt = slices.Clone(r.Prompt)
	r.ConnectorState = bytes.Clone(r.ConnectorState)
	r.Login = copyLoginPtr(r.Login)
	return r
}

func copyAuthCode(c storage.AuthCode) storage.AuthCode {
	c.Scopes = slices.Clone(c.Scopes)
	c.Login = copyLogin(c.Login)
	return c
}

func copyGrant(g storage.Grant) storage.Grant {
	g.Scopes = slices.Clone(g.Scopes)
	g.Login = copyLogin(g.Login)
	g.SuccessorSealed = bytes.Clone(g.SuccessorSealed)
	return g
}

func copySession(s storage.Session) storage.Session {
	s.Login = copyLogin(s.Login)
	s.Clients = slices.Clone(s.Clients)
	return s
}

func copyDevice(d storage.DeviceRequest) storage.DeviceRequest {
	d.Scopes = slices.Clone(d.Scopes)
	d.Login = copyLoginPtr(d.Login)
	return d
}

func copySigningKey(k storage.SigningKey) storage.SigningKey {
	k.Public = bytes.Clone(k.Public)
	k.Sealed = bytes.Clone(k.Sealed)
	return k
}

func copyKeySet(ks storage.KeySet) storage.KeySet {
	if ks.Keys != nil {
		keys := make([]storage.SigningKey, len(ks.Keys))
		for i, k := range ks.Keys {
			keys[i] = copySigningKey(k)
		}
		ks.Keys = keys
	}
	return ks
}
