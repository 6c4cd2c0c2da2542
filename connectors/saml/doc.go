// Package saml is the SAML 2.0 connector (type "saml"): Foyer as a service
// provider of an upstream SAML identity provider (Okta, ADFS, Entra ID,
// Keycloak, Shibboleth), built on github.com/crewjam/saml.
//
// It owns the connector's config and its validation, the SP metadata,
// fetching and caching the IdP metadata, the AuthnRequest (HTTP-Redirect
// binding through LoginURL, HTTP-POST binding through LoginForm), and the
// checks on the Response that comes back to /callback/{id}: an XML
// signature by a certificate of the IdP metadata on the Response or the
// Assertion (as configured), the assertion read from what the signature
// covers, audience, recipient, destination, InResponseTo, validity times
// with a small skew, one use of each assertion (through the store's replay
// cache) and the mapping of the NameID and attributes to an identity.
//
// This package must not import gateway, identity or a storage backend; it
// uses the connectors contracts, the storage.ReplayCache contract and
// internal/config for config problems.
package saml
