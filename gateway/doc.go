// Package gateway is Foyer's OpenID Connect front end: routing, one file per
// endpoint (discovery, jwks, authorize, login, callback, consent, token,
// userinfo), the browser flow's state machine, the OAuth error type and its
// writers, and the server-rendered pages (embedded, overridable by a theme
// directory).
//
// It uses connectors, identity, keys (through the narrow keySource
// interface) and storage; nothing imports gateway but cmd/foyer.
package gateway
