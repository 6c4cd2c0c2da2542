package config

import (
	"testing"
	"time"
)

// okHash is a well-formed argon2id hash.
const okHash = "$argon2id$v=19$m=65536,t=3,p=4$6+RA6BiMLwlYvGBrDCcDxA$neFov1W/Pv+SayvUT5KVsQlZytTEtGIxShStOM2en3A"

func TestValidateProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		wants []want
	}{
		{"issuer missing", "keys:\n  kek: {env: FOYER_KEK}\n", []want{{1, "issuer", "required"}}},
		{"issuer relative", "issuer: id.example.com\nkeys:\n  kek: {env: K}\n", []want{{1, "issuer", "absolute URL"}}},
		{"issuer http for a public host", "issuer: http://id.example.com\nkeys:\n  kek: {env: K}\n", []want{{1, "issuer", "must use https"}}},
		{"issuer with query", "issuer: https://id.example.com/?a=b\nkeys:\n  kek: {env: K}\n", []want{{1, "issuer", "query"}}},
		{"issuer with fragment", "issuer: https://id.example.com#x\nkeys:\n  kek: {env: K}\n", []want{{1, "issuer", "fragment"}}},
		{"issuer with user", "issuer: https://u:p@id.example.com\nkeys:\n  kek: {env: K}\n", []want{{1, "issuer", "user name"}}},
		{"http addr", base + "http:\n  addr: localhost\n", []want{{5, "http.addr", "not host:port"}}},
		{"http addr port zero", base + "http:\n  addr: 127.0.0.1:0\n", []want{{5, "http.addr", "not host:port"}}},
		{"tls cert without key", base + "http:\n  tls: {cert: /c.pem}\n", []want{{5, "http.tls.key", "required when http.tls.cert is set"}}},
		{"tls key without cert", base + "http:\n  tls:\n    key: /k.pem\n", []want{{5, "http.tls.cert", "required when http.tls.key is set"}}},
		{"trusted proxy bare address", base + "http:\n  trustedProxies: [10.1.2.3]\n", []want{{5, "http.trustedProxies[0]", "write 10.1.2.3/32"}}},
		{"trusted proxy host bits", base + "http:\n  trustedProxies:\n    - 10.1.2.3/8\n", []want{{6, "http.trustedProxies[0]", "did you mean 10.0.0.0/8?"}}},
		{"trusted proxy everyone", base + "http:\n  trustedProxies:\n    - 10.0.0.0/8\n    - ::/0\n", []want{{7, "http.trustedProxies[1]", "trust every client"}}},
		{"trusted proxy junk", base + "http:\n  trustedProxies: [proxy]\n", []want{{5, "http.trustedProxies[0]", "not a CIDR"}}},
		{"admin without token file", base + "admin:\n  addr: 127.0.0.1:5557\n", []want{{4, "admin.tokenFile", "required when admin.addr is set"}}},
		{"admin on the public address", base + "admin:\n  addr: 127.0.0.1:5556\n  tokenFile: /t\n", []want{{5, "admin.addr", "must differ from http.addr"}}},
		{"storage type misspelt", base + "storage:\n  type: sqllite\n", []want{{5, "storage.type", `"sqllite" is not one of memory, sqlite, postgres (did you mean sqlite?)`}}},
		{"storage type redis", base + "storage:\n  type: redis\n", []want{{5, "storage.type", "redis holds only sessions and keys"}}},
		{"postgres url required", base + "storage:\n  type: postgres\n", []want{{4, "storage.postgres.url", "required when postgres is used"}}},
		{"postgres url scheme", base + "storage:\n  type: postgres\n  postgres:\n    url: mysql://u:hunter2@db/foyer\n", []want{{7, "storage.postgres.url", "must start with postgres://"}}},
		{"postgres conns", base + "storage:\n  type: postgres\n  postgres:\n    url: host=db\n    maxConns: 2\n    minConns: 3\n", []want{{9, "storage.postgres.minConns", "between 0 and maxConns (2)"}}},
		{"postgres url from sessions", base + "storage:\n  type: memory\n  sessions: {type: postgres}\n", []want{{4, "storage.postgres.url", "required"}}},
		{"sessions type missing", base + "storage:\n  sessions:\n    redis: {addrs: [r:6379]}\n", []want{{5, "storage.sessions.type", "required: one of memory, sqlite, postgres, redis"}}},
		{"redis addrs missing", base + "storage:\n  sessions:\n    type: redis\n", []want{{5, "storage.sessions.redis.addrs", "at least one address"}}},
		{"redis addr malformed", base + "storage:\n  sessions:\n    type: redis\n    redis:\n      addrs: [redis]\n", []want{{8, "storage.sessions.redis.addrs[0]", "not host:port"}}},
		{"redis cluster db", base + "storage:\n  sessions:\n    type: redis\n    redis:\n      addrs: [a:1, b:1]\n      db: 2\n", []want{{9, "storage.sessions.redis.db", "Redis Cluster has only database 0"}}},
		{"redis tls options without tls", base + "storage:\n  sessions:\n    type: redis\n    redis:\n      addrs: [a:1]\n      tls:\n        caFile: /ca.pem\n", []want{{10, "storage.sessions.redis.tls.caFile", "no effect unless tls.enabled"}}},
		{"redis wait timeout", base + "storage:\n  sessions:\n    type: redis\n    redis:\n      addrs: [a:1]\n      waitReplicas: 1\n      waitTimeout: -1s\n", []want{{10, "storage.sessions.redis.waitTimeout", "must be positive"}}},
		{"unknown algorithm", "issuer: https://id.example.com\nkeys:\n  kek: {env: K}\n  algorithms: [RS256, es256]\n", []want{{4, "keys.algorithms[1]", `"es256" is not one of RS256, ES256, EdDSA (did you mean ES256?)`}}},
		{"duplicate algorithm", "issuer: https://id.example.com\nkeys:\n  kek: {env: K}\n  algorithms:\n    - ES256\n    - ES256\n", []want{{6, "keys.algorithms[1]", "listed twice"}}},
		{"rotation too often", "issuer: https://id.example.com\nkeys:\n  kek: {env: K}\n  rotationPeriod: 30m\n", []want{{4, "keys.rotationPeriod", "30m is too short: must be at least 1h"}}},
		{"kek missing", "issuer: https://id.example.com\n", []want{{1, "keys.kek", "required: set file or env"}}},
		{"kek both", "issuer: https://id.example.com\nkeys:\n  kek: {env: K, file: /k}\n", []want{{3, "keys.kek", "not both"}}},
		{"kek env name", "issuer: https://id.example.com\nkeys:\n  kek: {env: my-kek}\n", []want{{3, "keys.kek.env", "not an environment variable name"}}},
		{"id token too long", base + "tokens:\n  idToken: 48h\n", []want{{5, "tokens.idToken", "must be between 1m and 24h"}}},
		{"access token too short", base + "tokens:\n  accessToken: 30s\n", []want{{5, "tokens.accessToken", "between 1m and 24h"}}},
		{"refresh idle over absolute", base + "tokens:\n  refreshIdle: 800h\n", []want{{5, "tokens.refreshIdle", "must not exceed refreshAbsolute (720h)"}}},
		{"reuse grace too long", base + "tokens:\n  refreshReuseGrace: 2m\n", []want{{5, "tokens.refreshReuseGrace", "between 0s and 1m"}}},
		{"auth code too short", base + "tokens:\n  authCode: 5s\n", []want{{5, "tokens.authCode", "between 10s and 10m"}}},
		{"auth request too long", base + "tokens:\n  authRequest: 2h\n", []want{{5, "tokens.authRequest", "between 1m and 1h"}}},
		{"sso idle over absolute", base + "sso:\n  idleTimeout: 13h\n", []want{{5, "sso.idleTimeout", "must not exceed sso.absoluteTimeout (12h)"}}},
		{"logging format", base + "logging:\n  format: jsno\n", []want{{5, "logging.format", "(did you mean json?)"}}},
		{"logging level", base + "logging:\n  level: verbose\n", []want{{5, "logging.level", "is not one of debug, info, warn, error"}}},
		{"connector id required", base + "connectors:\n  - type: local\n", []want{{5, "connectors[0].id", "required"}}},
		{"connector id in URLs", base + "connectors:\n  - id: Corp LDAP\n    type: local\n", []want{{5, "connectors[0].id", "must match"}}},
		{"connector id duplicate", base + "connectors:\n  - id: a\n    type: local\n  - id: a\n    type: local\n", []want{{7, "connectors[1].id", "already used by connectors[0]"}}},
		{"connector type required", base + "connectors:\n  - id: a\n", []want{{5, "connectors[0].type", "required"}}},
		{"client id required", base + "clients:\n  - public: true\n    redirectURIs: [https://a.example.com/cb]\n", []want{{5, "clients[0].id", "required"}}},
		{"client id with space", base + "clients:\n  - id: my app\n    public: true\n    redirectURIs: [https://a.example.com/cb]\n", []want{{5, "clients[0].id", "printable ASCII without spaces"}}},
		{"client id duplicate", base + "clients:\n  - id: a\n    public: true\n    redirectURIs: [https://a.example.com/cb]\n  - id: a\n    public: true\n    redirectURIs: [https://a.example.com/cb]\n", []want{{8, "clients[1].id", "already used by clients[0]"}}},
		{"confidential without secret", base + "clients:\n  - id: a\n    redirectURIs: [https://a.example.com/cb]\n", []want{{5, "clients[0].secret", "required for a confidential client"}}},
		{"secret and hash", base + "clients:\n  - id: a\n    secret: s\n    secretHash: sha256:x\n    redirectURIs: [https://a.example.com/cb]\n", []want{{7, "clients[0].secretHash", "not both"}}},
		{"public with secret", base + "clients:\n  - id: a\n    public: true\n    secret: s\n    redirectURIs: [https://a.example.com/cb]\n", []want{{7, "clients[0].secret", "public clients have no secret"}}},
		{"secret hash malformed", base + "clients:\n  - id: a\n    secretHash: sha256:abc\n    redirectURIs: [https://a.example.com/cb]\n", []want{{6, "clients[0].secretHash", "must be sha256:<base64url>"}}},
		{"grant type misspelt", base + "clients:\n  - id: a\n    public: true\n    grantTypes: [authorization_code, refresh_tokens]\n    redirectURIs: [https://a.example.com/cb]\n", []want{{7, "clients[0].grantTypes[1]", "(did you mean refresh_token?)"}}},
		{"redirect required", base + "clients:\n  - id: a\n    public: true\n", []want{{5, "clients[0].redirectURIs", "required for the authorization_code grant"}}},
		{"redirect http", base + "clients:\n  - id: a\n    public: true\n    redirectURIs: [http://app.example.com/cb]\n", []want{{7, "clients[0].redirectURIs[0]", "must use https"}}},
		{"redirect fragment", base + "clients:\n  - id: a\n    public: true\n    redirectURIs:\n      - https://app.example.com/cb#x\n", []want{{8, "clients[0].redirectURIs[0]", "fragment"}}},
		{"redirect wildcard", base + "clients:\n  - id: a\n    public: true\n    redirectURIs: [https://*.example.com/cb]\n", []want{{7, "clients[0].redirectURIs[0]", "wildcards are not allowed"}}},
		{"redirect relative", base + "clients:\n  - id: a\n    public: true\n    redirectURIs: [/cb]\n", []want{{7, "clients[0].redirectURIs[0]", "absolute URL"}}},
		{"private scheme for a confidential client", base + "clients:\n  - id: a\n    secret: s\n    redirectURIs: [com.example.app:/cb]\n", []want{{7, "clients[0].redirectURIs[0]", "must use https"}}},
		{"javascript scheme", base + "clients:\n  - id: a\n    public: true\n    redirectURIs: [\"javascript:alert(1)\"]\n", []want{{7, "clients[0].redirectURIs[0]", "must use https"}}},
		{"post-logout http", base + "clients:\n  - id: a\n    public: true\n    redirectURIs: [https://a.example.com/cb]\n    postLogoutRedirectURIs: [http://a.example.com/]\n", []want{{8, "clients[0].postLogoutRedirectURIs[0]", "must use https"}}},
		{"backchannel http", base + "clients:\n  - id: a\n    public: true\n    redirectURIs: [https://a.example.com/cb]\n    backchannelLogoutURI: http://a.example.com/bc\n", []want{{8, "clients[0].backchannelLogoutURI", "must use https"}}},
		{"allowed connector unknown", base + "connectors:\n  - id: corp-ldap\n    type: local\nclients:\n  - id: a\n    public: true\n    redirectURIs: [https://a.example.com/cb]\n    allowedConnectors: [corp_ldap]\n", []want{{11, "clients[0].allowedConnectors[0]", `unknown connector "corp_ldap" (did you mean corp-ldap?)`}}},
		{"allowed connector without connectors", base + "clients:\n  - id: a\n    public: true\n    redirectURIs: [https://a.example.com/cb]\n    allowedConnectors: [local, github]\n", []want{{8, "clients[0].allowedConnectors[1]", `unknown connector "github"`}}},
		{"public client without PKCE", base + "clients:\n  - id: a\n    public: true\n    requirePKCE: false\n    redirectURIs: [https://a.example.com/cb]\n", []want{{7, "clients[0].requirePKCE", "public clients always use PKCE"}}},
		{"signing algorithm not enabled", base + "clients:\n  - id: a\n    public: true\n    redirectURIs: [https://a.example.com/cb]\n    signingAlgorithm: ES256\n", []want{{8, "clients[0].signingAlgorithm", `"ES256" is not in keys.algorithms (RS256)`}}},
		{"user needs a name", base + "users:\n  - passwordHash: \"" + okHash + "\"\n", []want{{5, "users[0]", "username or email is required"}}},
		{"user password required", base + "users:\n  - username: alice\n", []want{{5, "users[0].passwordHash", "required"}}},
		{"user password not a hash", base + "users:\n  - username: alice\n    passwordHash: hunter2\n", []want{{6, "users[0].passwordHash", "must be an argon2id"}}},
		{"user email", base + "users:\n  - email: alice\n    passwordHash: \"" + okHash + "\"\n", []want{{5, "users[0].email", "not an email address"}}},
		{"usernames unique ignoring case", base + "users:\n  - username: alice\n    passwordHash: \"" + okHash + "\"\n  - username: Alice\n    passwordHash: \"" + okHash + "\"\n", []want{{7, "users[1].username", "already used by users[0]"}}},
		{"emails unique ignoring case", base + "users:\n  - email: a@example.com\n    passwordHash: \"" + okHash + "\"\n  - email: A@example.com\n    passwordHash: \"" + okHash + "\"\n", []want{{7, "users[1].email", "already used by users[0]"}}},
		{"empty group", base + "users:\n  - username: a\n    passwordHash: \"" + okHash + "\"\n    groups: [admins, \"\"]\n", []want{{7, "users[0].groups[1]", "must not be empty"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkProblems(t, parseProblems(t, tt.src, nil), tt.wants)
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{"loopback http issuer", "issuer: http://localhost:5556/foyer\nkeys:\n  kek: {file: k}\n"},
		{"ipv6 loopback issuer", "issuer: http://[::1]:5556\nkeys:\n  kek: {file: k}\n"},
		{"loopback redirect for a native client", base + "clients:\n  - id: cli\n    public: true\n    redirectURIs: [http://127.0.0.1/callback, \"http://[::1]/cb\"]\n"},
		{"private-use scheme for a public client", base + "clients:\n  - id: app\n    public: true\n    redirectURIs: [com.example.app:/oauth2redirect]\n"},
		{"password grant needs no redirect", base + "clients:\n  - id: svc\n    secret: s\n    grantTypes: [password]\n"},
		{"hashed secrets", base + "clients:\n  - id: a\n    secretHash: \"" + okHash + "\"\n    redirectURIs: [https://a.example.com/cb]\n" +
			"  - id: b\n    secretHash: sha256:yYD6huQ_0mubuk-OdS0qBy87I3MMcsN5HrUIeNw7EHU\n    redirectURIs: [https://b.example.com/cb]\n"},
		{"bcrypt user", base + "users:\n  - username: carol\n    passwordHash: \"$2a$10$pkQugPq3NNKa2.CDgg2lx.9.qeai0Ipws5EjJfOcKSn1QjQr0tJ2S\"\n"},
		{"redis sentinel with db", base + "storage:\n  sessions:\n    type: redis\n    redis: {addrs: [\"s1:26379\", \"s2:26379\"], masterName: m, db: 3}\n"},
		{"zero grace", base + "tokens:\n  refreshReuseGrace: 0s\n"},
		{"empty connector config", base + "connectors:\n  - id: local\n    type: local\n    config: {}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if ps := parseProblems(t, tt.src, nil); ps != nil {
				t.Errorf("unexpected problems:\n%v", ps)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	src := "issuer: https://id.example.com/\nkeys:\n  kek: {env: K}\ntokens:\n  refreshReuseGrace: 0s\n" +
		"clients:\n  - id: a\n    public: true\n    redirectURIs: [https://a.example.com/cb]\n" +
		"  - id: b\n    secret: s\n    requirePKCE: false\n    redirectURIs: [https://b.example.com/cb]\n" +
		"users:\n  - username: u\n    passwordHash: \"" + okHash + "\"\n  - username: v\n    emailVerified: false\n    passwordHash: \"" + okHash + "\"\n" +
		"connectors:\n  - id: local\n    type: local\n"
	c, err := Parse([]byte(src), "foyer.yaml", nil, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"issuer normalised", c.Issuer, "https://id.example.com"},
		{"http.addr", c.HTTP.Addr, DefaultHTTPAddr},
		{"storage.type", c.Storage.Type, StorageSQLite},
		{"storage.sqlite.file", c.Storage.SQLite.File, DefaultSQLiteFile},
		{"sessions type follows storage", c.Storage.SessionsType(), StorageSQLite},
		{"postgres.maxConns", c.Storage.Postgres.MaxConns, 10},
		{"postgres.connMaxLifetime", c.Storage.Postgres.ConnMaxLifetime.Std(), 30 * time.Minute},
		{"keys.algorithms", len(c.Keys.Algorithms) == 1 && c.Keys.Algorithms[0] == AlgRS256, true},
		{"keys.rotationPeriod", c.Keys.RotationPeriod.Std(), 6 * time.Hour},
		{"tokens.idToken", c.Tokens.IDToken.Std(), 10 * time.Minute},
		{"tokens.accessToken", c.Tokens.AccessToken.Std(), 10 * time.Minute},
		{"tokens.refreshIdle", c.Tokens.RefreshIdle.Std(), 24 * time.Hour},
		{"tokens.refreshAbsolute", c.Tokens.RefreshAbsolute.Std(), 720 * time.Hour},
		{"explicit zero grace kept", c.Tokens.RefreshReuseGrace.Std(), time.Duration(0)},
		{"tokens.authCode", c.Tokens.AuthCode.Std(), time.Minute},
		{"tokens.authRequest", c.Tokens.AuthRequest.Std(), 15 * time.Minute},
		{"sso.idleTimeout", c.SSO.IdleTimeout.Std(), time.Hour},
		{"sso.absoluteTimeout", c.SSO.AbsoluteTimeout.Std(), 12 * time.Hour},
		{"web.title", c.Web.Title, "Foyer"},
		{"logging.format", c.Logging.Format, "json"},
		{"logging.level", c.Logging.Level, "info"},
		{"grant types", len(c.Clients[0].GrantTypes), 2},
		{"PKCE by default", *c.Clients[0].RequirePKCE, true},
		{"PKCE off kept", c.Clients[1].PKCERequired(), false},
		{"email verified by default", *c.Users[0].EmailVerified, true},
		{"email verified false kept", *c.Users[1].EmailVerified, false},
		{"connector name", c.Connectors[0].Name, "local"},
		{"connector config made", c.Connectors[0].Config != nil, true},
		{"admin off", c.Admin.Addr, ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	g := Duration(0)
	d := &Config{Tokens: Tokens{RefreshReuseGrace: &g}}
	d.SetDefaults()
	if d.Tokens.RefreshReuseGrace.Std() != 0 {
		t.Error("SetDefaults replaced an explicit zero grace")
	}
	d = &Config{}
	d.SetDefaults()
	if d.Tokens.RefreshReuseGrace.Std() != 5*time.Second {
		t.Errorf("default grace = %v, want 5s", d.Tokens.RefreshReuseGrace)
	}
}

func TestDevIsValid(t *testing.T) {
	t.Parallel()
	c := Dev("/var/tmp/foyer")
	if ps := c.Validate(); ps != nil {
		t.Fatalf("Dev config has problems:\n%v", ps)
	}
	if c.Storage.SQLite.File != "/var/tmp/foyer/foyer-dev.db" || c.Keys.KEK.File != "/var/tmp/foyer/foyer-dev.kek" {
		t.Errorf("dev files: %q, %q", c.Storage.SQLite.File, c.Keys.KEK.File)
	}
	if c.Logging.Format != "text" || c.Logging.Level != "debug" || c.Issuer != "http://127.0.0.1:5556" {
		t.Errorf("dev logging or issuer: %+v %q", c.Logging, c.Issuer)
	}
	if len(c.Connectors) != 1 || c.Connectors[0].ID != "local" || c.Connectors[0].Type != "local" {
		t.Errorf("dev connectors: %+v", c.Connectors)
	}
}

func TestValidateWithoutFile(t *testing.T) {
	t.Parallel()
	c := Dev(t.TempDir())
	c.Clients = []Client{{ID: "a", Public: true}}
	c.Connectors[0].Config = &ldapConfig{}
	c.SetDefaults()
	checkProblemsNoFile(t, c.Validate(), []string{
		"clients[0].redirectURIs: at least one is required for the authorization_code grant",
		"connectors[0].config.host: required",
	})
}

func checkProblemsNoFile(t *testing.T, got Problems, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].String() == want[i] && got[i].Line == 0
	}
	if !ok {
		t.Errorf("problems:\n%v\nwant:\n%v", got, want)
	}
}
