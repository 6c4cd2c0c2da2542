// Package keys owns Foyer's signing keys: their generation, their encryption
// at rest under a key-encryption key (KEK), their scheduled rotation with
// pre-publication, the JWKS document, and the signing and verification of
// JWS compact tokens (ID tokens, JWT access tokens, logout tokens).
//
// # Life of a key
//
// Every key has a SignFrom time and, once a successor exists, a RemoveAt time.
// Per algorithm, the active key is the published key with the latest SignFrom
// that is not in the future. A key is published (served in JWKS, accepted by
// Verify) from the moment a worker loads it until RemoveAt.
//
//   - A new key is stored with SignFrom at least PublishAhead in the future,
//     and PublishAhead > JWKSMaxAge + ReloadInterval.
//   - When it is added, the key it replaces gets RemoveAt = SignFrom of the
//     new key + TokenLifetime + JWKSMaxAge, so it stays published until every
//     token it signed has expired and every cached JWKS has caught up.
//   - Keys whose RemoveAt has passed are never served nor accepted, whether
//     or not the store has been pruned yet.
//
// # The invariant
//
// No worker ever signs with a key that relying parties cannot already see in
// the JWKS of every worker. SignFrom is an absolute time that every worker
// agrees on, so a worker that has loaded a new key does not sign with it
// before SignFrom, and a worker that has not loaded it yet keeps signing with
// the previous key, which is still published. Each worker reloads the key set
// every ReloadInterval, so by SignFrom every worker has served the new key for
// at least PublishAhead − ReloadInterval > JWKSMaxAge, which is longer than any
// relying party caches JWKS. The invariant holds as long as every worker
// reloads successfully within PublishAhead − JWKSMaxAge; LoadedAt lets a
// readiness check notice a worker that does not.
//
// The only exception is the very first key of an algorithm (Init on a store
// with none): it signs at once, because no relying party can have cached a
// JWKS that lacks it for longer than it has existed.
//
// # Several workers
//
// Every worker runs Run, which reloads the key set every ReloadInterval. One
// of them at a time holds the "keys" lease in the store and is the only one
// that rotates and prunes; every write is a compare-and-swap on the key set
// version, so a lost race costs a reload, never a lost key.
//
// # At rest
//
// Private keys are stored as PKCS#8 sealed with AES-256-GCM under the KEK,
// with the key id in the additional data, so a sealed private key cannot be
// moved to another key id. A key is only published once its sealed private
// key opens and matches its stored public key, so whoever can write to the
// store but lacks the KEK cannot slip their own public key into JWKS.
//
// This package imports only storage from Foyer. It must not import gateway,
// connectors, identity or any storage backend.
package keys
