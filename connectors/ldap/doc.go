// Package ldap is the password connector for LDAP directories: OpenLDAP,
// Active Directory, FreeIPA and the like. A login searches the person's
// entry as a service account, binds as that entry with the password typed,
// and reads the person's groups; a refresh finds the entry again and reads
// the groups anew. docs/connectors/ldap.md describes the configuration.
//
// Every operation opens its own connection (LDAPS, StartTLS, or plain LDAP
// only when configured as insecure), trying the configured hosts in
// order, and closes it when done: no pool, so no stale connection after a
// directory restart, at the cost of a TCP and TLS handshake per login.
// Connecting and every request are bounded by timeouts and by the caller's
// context.
//
// It imports connectors and internal/config; never gateway, identity or
// storage.
package ldap
