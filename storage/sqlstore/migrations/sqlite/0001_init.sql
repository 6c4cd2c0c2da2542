-- Foyer schema, version 1 (SQLite).
-- Times are integer Unix milliseconds (UTC). Lists and claims are JSON text.
-- Session-kind records keep the whole record as JSON in data, beside the
-- columns their lookups and expiry need. Keys of bearer secrets are
-- storage.HashSecret hashes, never the secrets.

-- The directory.

CREATE TABLE users (
	id             TEXT    NOT NULL PRIMARY KEY,
	email          TEXT    NOT NULL,
	email_verified INTEGER NOT NULL,
	name           TEXT    NOT NULL,
	username       TEXT    NOT NULL,
	groups_json    TEXT    NOT NULL,
	password_hash  TEXT    NOT NULL,
	disabled       INTEGER NOT NULL,
	static         INTEGER NOT NULL,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL,
	last_login_at  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_username ON users (username) WHERE username <> '';
CREATE INDEX users_email ON users (email);

CREATE TABLE identities (
	connector_id   TEXT    NOT NULL,
	subject        TEXT    NOT NULL,
	user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	claims_json    TEXT    NOT NULL,
	connector_data BLOB,
	linked_at      INTEGER NOT NULL,
	last_used_at   INTEGER NOT NULL,
	PRIMARY KEY (connector_id, subject)
) STRICT;
CREATE INDEX identities_user ON identities (user_id);

CREATE TABLE clients (
	id                                  TEXT    NOT NULL PRIMARY KEY,
	secret_hash                         TEXT    NOT NULL,
	name                                TEXT    NOT NULL,
	is_public                           INTEGER NOT NULL,
	redirect_uris_json                  TEXT    NOT NULL,
	post_logout_redirect_uris_json      TEXT    NOT NULL,
	grant_types_json                    TEXT    NOT NULL,
	allowed_connectors_json             TEXT    NOT NULL,
	require_pkce                        INTEGER NOT NULL,
	skip_consent                        INTEGER NOT NULL,
	backchannel_logout_uri              TEXT    NOT NULL,
	backchannel_logout_session_required INTEGER NOT NULL,
	signing_algorithm                   TEXT    NOT NULL,
	static                              INTEGER NOT NULL,
	created_at                          INTEGER NOT NULL,
	updated_at                          INTEGER NOT NULL
) STRICT;

CREATE TABLE connectors (
	id         TEXT    NOT NULL PRIMARY KEY,
	type       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	config     BLOB,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE consents (
	user_id     TEXT    NOT NULL,
	client_id   TEXT    NOT NULL,
	scopes_json TEXT    NOT NULL,
	granted_at  INTEGER NOT NULL,
	PRIMARY KEY (user_id, client_id)
) STRICT;

CREATE TABLE audit (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT    NOT NULL UNIQUE,
	occurred_at INTEGER NOT NULL,
	actor       TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	target      TEXT    NOT NULL,
	detail      TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_time ON audit (occurred_at, seq);

-- Sessions and keys.

CREATE TABLE auth_requests (
	id         TEXT    NOT NULL PRIMARY KEY,
	expires_at INTEGER NOT NULL,
	data       BLOB    NOT NULL
) STRICT;
CREATE INDEX auth_requests_expiry ON auth_requests (expires_at);

CREATE TABLE auth_codes (
	id         TEXT    NOT NULL PRIMARY KEY,
	used       INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	data       BLOB    NOT NULL
) STRICT;
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

CREATE TABLE grants (
	id         TEXT    NOT NULL PRIMARY KEY,
	client_id  TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	offline    INTEGER NOT NULL,
	revoked    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	data       BLOB    NOT NULL
) STRICT;
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_session ON grants (session_id);
CREATE INDEX grants_expiry ON grants (expires_at);

-- Every refresh token a grant ever had, so a rotated one is recognised.
CREATE TABLE refresh_tokens (
	token_hash TEXT NOT NULL PRIMARY KEY,
	grant_id   TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE sessions (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    NOT NULL,
	expires_at INTEGER NOT NULL,
	data       BLOB    NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE device_requests (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_code  TEXT    NOT NULL UNIQUE,
	expires_at INTEGER NOT NULL,
	data       BLOB    NOT NULL
) STRICT;
CREATE INDEX device_requests_expiry ON device_requests (expires_at);

CREATE TABLE replay (
	replay_key TEXT    NOT NULL PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX replay_expiry ON replay (expires_at);

CREATE TABLE rate_limits (
	rate_key     TEXT    NOT NULL,
	window_ms    INTEGER NOT NULL,
	window_start INTEGER NOT NULL,
	hits         INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	PRIMARY KEY (rate_key, window_ms)
) STRICT;
CREATE INDEX rate_limits_expiry ON rate_limits (expires_at);

-- One row: the signing key set, versioned for compare-and-swap.
CREATE TABLE key_set (
	id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	version    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	data       BLOB    NOT NULL
) STRICT;

CREATE TABLE leases (
	name       TEXT    NOT NULL PRIMARY KEY,
	holder     TEXT    NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX leases_expiry ON leases (expires_at);
