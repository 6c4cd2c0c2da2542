// Package oidc is the connector for an upstream OpenID Provider (Google,
// Salesforce, another Foyer...): Foyer is the relying party of the
// upstream, sends the browser there with PKCE (S256) and a nonce, verifies
// the ID token it gets back (signature against an allowlist of asymmetric
// algorithms, iss, aud, azp, exp, nonce), maps its claims to an identity,
// and on refresh refreshes upstream with the upstream's refresh token.
//
// Discovery is lazy: Foyer starts while the upstream is down, and the
// first login that needs the upstream tries again. Every upstream call goes
// through the host's HTTP client with a timeout, and every upstream answer
// is capped in size before it is parsed.
//
// It imports connectors and internal/config, go-oidc and x/oauth2; never
// gateway, identity or a storage backend.
package oidc
