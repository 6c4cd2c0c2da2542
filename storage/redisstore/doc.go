// Package redisstore is Foyer's Redis backend for sessions and keys: it
// implements storage.State (auth requests, codes, grants and refresh
// tokens, SSO sessions, device requests, the replay cache, rate-limit
// counters, the signing key set and leases) on github.com/redis/go-redis/v9.
// The directory lives in SQL; this package holds none of it. It is named
// redisstore so that it does not shadow go-redis for its importers.
//
// Open takes a Config: one address for a standalone server, several for
// Cluster, or sentinels with MasterName; TLS, an ACL user and a password;
// a KeyPrefix so that several deployments can share one Redis.
//
// # Running Redis for Foyer
//
// The store needs Redis 6.0 or later (SET KEEPTTL in its scripts). Run it
// with maxmemory-policy noeviction, so that it refuses writes when full
// (Foyer answers 503) rather than silently dropping sessions, used codes
// or revocations, and with AOF (appendonly yes, appendfsync everysec or
// always) so that a restart does not forget them either. EvictionPolicy
// lets /readyz warn when eviction is on.
//
// Every command goes to a master; replicas are never read. With
// Config.WaitReplicas set, each write that changes security state (a code
// redeemed, a device code claimed, a refresh token rotated, anything
// revoked) is followed by WAIT on the same connection, and too few
// acknowledgements are logged.
//
// The least an ACL user needs, for KeyPrefix "foyer:" (TestMinimalACL runs
// the conformance suite with it; a Cluster client also reads the slot map,
// +cluster|slots):
//
//	user foyer on >PASSWORD ~foyer:* resetchannels -@all +@read +@write +@scripting +@connection +wait +config|get
//
// # Expiry
//
// The contracts judge expiry by the store's clock (WithClock) against each
// record's ExpiresAt, never by Redis's clock: every record carries its
// expiry in Unix milliseconds (X below), Go checks it on reads and the
// scripts check it against the "now" they are passed. Each key also has a
// native TTL, set relative to that clock (PEXPIRE, not PEXPIREAT, so clock
// skew between Foyer and Redis does not matter) at the record's expiry
// plus a minute of slack, so that Redis reclaims the space by itself: no
// sweeper is needed, and Store is not a storage.Sweeper. Index sets and
// lookup keys live as long as the longest-lived record they name. A grant
// with no absolute expiry (the gateway always sets one) is the exception:
// each refresh token's lookup key lives for the idle term it was issued
// with, so a token older than that reads as unknown rather than as reuse.
//
// # Key layout
//
// Every key starts with Config.KeyPrefix (P below), which may not contain
// braces. The part in braces is the Cluster hash tag: keys that one script
// touches share it, so every atomic operation runs on one node.
//
// A record is a string value, "X A N" then a newline then the record as
// JSON (encoding/json, the storage struct tags): X its expiry and A its
// absolute expiry (0: none) in Unix ms, N a number whose meaning depends
// on the kind. A string, not a hash: a hash with a field over 64 bytes
// leaves Redis's compact encoding and costs some 250 bytes more.
//
//	P{authreq:ID}          record, N 0                          auth request
//	P{code:ID}             record, N 1 once redeemed            authorization code
//	P{grant:ID}            record, X the earlier of the idle and the absolute
//	                       expiry, N the time of the last rotation
//	P{grant:ID}:tokens     set of every refresh token hash the grant ever held
//	P{rt:HASH}             "ABS:ID": the grant the token hash belongs to, and
//	                       that grant's absolute expiry (0: none)
//	P{session:ID}          record, X as a grant's, N 0          SSO session
//	P{session:ID}:grants   set of the IDs of the grants logged in with it
//	P{user:ID}:grants      set of the IDs of the user's grants
//	P{user:ID}:sessions    set of the IDs of the user's sessions
//	P{device:ID}           record, N 0                          device request
//	P{usercode:CODE}       the ID of the device request holding CODE
//	P{replay:KEY}          its expiry in Unix ms                replay cache
//	P{rate:KEY}:W:S        the count of the window of W ns that starts S ns
//	                       after the epoch                      rate limit
//	P{keyset}              hash: v (version), r (JSON)          signing key set
//	P{lease:NAME}          hash: h (holder), x (expiry)         lease
//
// Measured with MEMORY USAGE on Redis 7.0 (see TestMemoryPerRecord): an
// SSO session takes about 900 bytes; a grant with a full login about 1.1
// KiB, plus its token set and 150 bytes for each refresh token it has
// held; the index sets about 250 bytes per user or session.
//
// IDs, hashes and codes are used as given: they are the hashes callers
// pass (storage.HashSecret), never bearer secrets.
//
// # Atomicity
//
// Each operation the contracts call atomic is one Lua script on one key
// or on keys of one hash tag (scripts.go): RedeemAuthCode, TakeAuthRequest,
// ClaimDeviceCode, RotateRefreshToken (grace, reuse and revocation
// included, against the grant and its token set), RevokeGrant, each grant
// of RevokeSessionGrants, TouchSession, Remember, Hit, SwapKeySet,
// AcquireLease and ReleaseLease. Scripts run by EVALSHA, falling back to
// EVAL when Redis has lost its script cache (after a restart).
//
// What spans hash tags cannot be atomic in Cluster, so it is arranged to
// be safe without it:
//
//   - Lookup keys (P{rt:HASH}, P{usercode:CODE}) are hints, verified on
//     every read against the record's own slot (the hash in the grant's
//     token set, the code in the device request's JSON); a stale one is
//     ignored and may be taken over.
//   - Uniqueness of a token hash or a user code is a claim on its lookup
//     key: SET NX, or a compare-and-set that takes over a key whose holder
//     is gone or expired. CreateGrant and CreateDeviceRequest write the
//     record first and delete it again if the claim is refused;
//     RotateRefreshToken claims the successor before the rotation script
//     and releases it if the script does not rotate.
//   - Index sets (grants and sessions by user, grants by session) are
//     added to after the record is written and pruned lazily when a read
//     finds a member gone, so they never hide a live record.
//
// go-redis does not retry failed commands here (MaxRetries -1): a script
// whose reply was lost may have run, and running a rotation twice would
// read as refresh-token reuse. Errors of an unreachable, closed, loading
// or full Redis wrap storage.ErrUnavailable.
//
// This package imports storage and nothing else from Foyer; nothing in
// Foyer but the wiring in cmd should import it.
package redisstore
