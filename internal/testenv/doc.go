// Package testenv starts or finds the real services that Foyer's tests
// need: a throwaway OpenLDAP server (Slapd), Redis (RedisURL for the
// shared one, StartRedis and StartRedisCluster for test-owned ones),
// crewjam/saml's IdP (SAMLIdP), Debian's Chromium (Chromium,
// ChromiumOptions) and nginx as a TLS reverse proxy (Nginx). Each helper
// takes the test, registers t.Cleanup to stop what it started, and returns
// the addresses and credentials to use. When a service is missing, a helper
// fails the test under CI=true and skips it loudly elsewhere.
//
// It is imported by tests only. It must not import any Foyer package, so
// that every package can use it in its tests without an import cycle.
package testenv
