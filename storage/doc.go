// Package storage owns Foyer's storage contracts: the plain record types, one
// small interface per record kind, the sentinel errors callers branch on, and
// the helpers that turn bearer secrets into the hashes records are keyed by.
//
// Two kinds of state live behind these contracts (see docs/storage.md):
//
//   - the directory (users, remote identities, clients, connector configs,
//     consents, the audit log): durable and relational, never lost;
//   - sessions and keys (auth requests, codes, grants and refresh tokens, SSO
//     sessions, device requests, the replay cache, rate-limit counters,
//     signing keys and the rotation lease): short-lived, expiring by TTL, with
//     atomic single-use operations.
//
// Expiry is judged by the backend's clock against each record's ExpiresAt:
// an expired record reads as ErrNotFound whether or not it has been swept.
// Native TTLs and background sweepers only reclaim space.
//
// Bearer secrets (codes, refresh tokens, session ids, device codes) never
// reach a backend in clear: callers pass HashSecret(secret), so a copy of the
// store yields nothing that can be presented back to Foyer.
//
// This package imports nothing from Foyer. Backends live in sub-packages and
// prove themselves with storage/storagetest.
package storage
