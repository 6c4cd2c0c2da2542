// Package identity owns local users and their linked remote identities: the
// Linker that resolves a connector's identity to one local user, password
// hashing (argon2id, with bcrypt accepted for imported users), and the
// account lifecycle.
//
// It may import storage and connectors; it must not import gateway.
package identity
