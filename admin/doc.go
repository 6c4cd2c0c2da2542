// Package admin owns Foyer's admin API: a JSON API under /api/v1, served on
// the internal admin address behind a bearer token, for managing users,
// their linked identities, sessions and grants, relying parties, and for
// reading the audit log. The `foyer admin` CLI is its client and uses the
// wire types declared here.
//
// Every change is appended to the audit log with the actor "admin"; no
// secret (password, client secret, token or hash of one) ever appears in a
// response, the audit log or the process log, except a generated client
// secret, returned once in the response that made it.
//
// The package declares the narrow store interfaces it consumes and takes
// what belongs to other packages as functions (EndSession,
// HashClientSecret). It imports storage and identity; it must not import
// gateway, connectors or cmd.
package admin
