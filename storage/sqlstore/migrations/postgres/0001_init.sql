-- Foyer schema, version 1 (PostgreSQL). Same tables and columns as the
-- SQLite migration of the same number; only the types differ.
-- Times are integer Unix milliseconds (UTC). Lists and claims are JSON text.
-- Session-kind records keep the whole record as JSON in data, beside the
-- columns their lookups and expiry need. Keys of bearer secrets are
-- storage.HashSecret hashes, never the secrets.

-- The directory.

CREATE TABLE users (
	id             TEXT    NOT NULL PRIMARY KEY,
	email          TEXT    NOT NULL,
	email_verified BOOLEAN NOT NULL,
	name           TEXT    NOT NULL,
	username       TEXT    NOT NULL,
	groups_json    TEXT    NOT NULL,
	password_hash  TEXT    NOT NULL,
	disabled       BOOLEAN NOT NULL,
	static         BOOLEAN NOT NULL,
	created_at     BIGINT  NOT NULL,
	updated_at     BIGINT  NOT NULL,
	last_login_at  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (username) WHERE username <> '';
CREATE INDEX users_email ON users (email);

CREATE TABLE identities (
	connector_id   TEXT    NOT NULL,
	subject        TEXT    NOT NULL,
	user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	claims_json    TEXT    NOT NULL,
	connector_data BYTEA,
	linked_at      BIGINT  NOT NULL,
	last_used_at   BIGINT  NOT NULL,
	PRIMARY KEY (connector_id, subject)
);
CREATE INDEX identities_user ON identities (user_id);

CREATE TABLE clients (
	id                                  TEXT    NOT NULL PRIMARY KEY,
	secret_hash                         TEXT    NOT NULL,
	name                                TEXT    NOT NULL,
	is_public                           BOOLEAN NOT NULL,
	redirect_uris_json                  TEXT    NOT NULL,
	post_logout_redirect_uris_json      TEXT    NOT NULL,
	grant_types_json                    TEXT    NOT NULL,
	allowed_connectors_json             TEXT    NOT NULL,
	require_pkce                        BOOLEAN NOT NULL,
	skip_consent                        BOOLEAN NOT NULL,
	backchannel_logout_uri              TEXT    NOT NULL,
	backchannel_logout_session_required BOOLEAN NOT NULL,
	signing_algorithm                   TEXT    NOT NULL,
	static                              BOOLEAN NOT NULL,
	created_at                          BIGINT  NOT NULL,
	updated_at                          BIGINT  NOT NULL
);

CREATE TABLE connectors (
	id         TEXT    NOT NULL PRIMARY KEY,
	type       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	config     BYTEA,
	created_at BIGINT  NOT NULL,
	updated_at BIGINT  NOT NULL
);

CREATE TABLE consents (
	user_id     TEXT    NOT NULL,
	client_id   TEXT    NOT NULL,
	scopes_json TEXT    NOT NULL,
	granted_at  BIGINT  NOT NULL,
	PRIMARY KEY (user_id, client_id)
);

CREATE TABLE audit (
	seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	occurred_at BIGINT  NOT NULL,
	actor       TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	target      TEXT    NOT NULL,
	detail      TEXT    NOT NULL
);
CREATE INDEX audit_time ON audit (occurred_at, seq);

-- Sessions and keys.

CREATE TABLE auth_requests (
	id         TEXT    NOT NULL PRIMARY KEY,
	expires_at BIGINT  NOT NULL,
	data       BYTEA   NOT NULL
);
CREATE INDEX auth_requests_expiry ON auth_requests (expires_at);

CREATE TABLE auth_codes (
	id         TEXT    NOT NULL PRIMARY KEY,
	used       BOOLEAN NOT NULL,
	expires_at BIGINT  NOT NULL,
	data       BYTEA   NOT NULL
);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

CREATE TABLE grants (
	id         TEXT    NOT NULL PRIMARY KEY,
	client_id  TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	offline    BOOLEAN NOT NULL,
	revoked    BOOLEAN NOT NULL,
	expires_at BIGINT  NOT NULL,
	data       BYTEA   NOT NULL
);
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_session ON grants (session_id);
CREATE INDEX grants_expiry ON grants (expires_at);

-- Every refresh token a grant ever had, so a rotated one is recognised.
CREATE TABLE refresh_tokens (
	token_hash TEXT NOT NULL PRIMARY KEY,
	grant_id   TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE sessions (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    NOT NULL,
	expires_at BIGINT  NOT NULL,
	data       BYTEA   NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE device_requests (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_code  TEXT    NOT NULL UNIQUE,
	expires_at BIGINT  NOT NULL,
	data       BYTEA   NOT NULL
);
CREATE INDEX device_requests_expiry ON device_requests (expires_at);

CREATE TABLE replay (
	replay_key TEXT    NOT NULL PRIMARY KEY,
	expires_at BIGINT  NOT NULL
);
CREATE INDEX replay_expiry ON replay (expires_at);

CREATE TABLE rate_limits (
	rate_key     TEXT    NOT NULL,
	window_ms    BIGINT  NOT NULL,
	window_start BIGINT  NOT NULL,
	hits         BIGINT  NOT NULL,
	expires_at   BIGINT  NOT NULL,
	PRIMARY KEY (rate_key, window_ms)
);
CREATE INDEX rate_limits_expiry ON rate_limits (expires_at);

-- One row: the signing key set, versioned for compare-and-swap.
CREATE TABLE key_set (
	id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	version    BIGINT  NOT NULL,
	updated_at BIGINT  NOT NULL,
	data       BYTEA   NOT NULL
);

CREATE TABLE leases (
	name       TEXT    NOT NULL PRIMARY KEY,
	holder     TEXT    NOT NULL,
	expires_at BIGINT  NOT NULL
);
CREATE INDEX leases_expiry ON leases (expires_at);
