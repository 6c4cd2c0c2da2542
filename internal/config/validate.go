package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// checker collects validation problems by path; lines are filled in at the
// end from the parsed file, when there is one.
type checker struct {
	probs Problems
}

func (k *checker) add(path, format string, args ...any) {
	k.probs = append(k.probs, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks the configuration as a whole and returns every problem it
// finds, or nil. It is pure: it reads no file and opens no connection, so
// `foyer config check` can run it alone. Run it after SetDefaults (Parse
// does both). Checks that need the Registry (a connector's type) are made
// while decoding, by Parse. For a Config from Parse or Load, problems carry
// the file name and line.
func (c *Config) Validate() Problems {
	k := &checker{}
	k.issuer(c.Issuer)
	k.http(c.HTTP)
	k.admin(c.Admin, c.HTTP.Addr)
	k.storage(c.Storage)
	k.keys(c.Keys)
	k.tokens(c.Tokens)
	k.between("sso.idleTimeout", c.SSO.IdleTimeout, time.Second, 0)
	k.between("sso.absoluteTimeout", c.SSO.AbsoluteTimeout, time.Second, 0)
	if c.SSO.IdleTimeout > c.SSO.AbsoluteTimeout {
		k.add("sso.idleTimeout", "must not exceed sso.absoluteTimeout (%s)", c.SSO.AbsoluteTimeout)
	}
	k.oneOf("logging.format", c.Logging.Format, "json", "text")
	k.oneOf("logging.level", c.Logging.Level, "debug", "info", "warn", "error")
	connectorIDs := k.connectors(c.Connectors)
	k.clients(c.Clients, connectorIDs, c.Keys.Algorithms)
	k.users(c.Users)

	for i := range k.probs {
		k.probs[i].File = c.file
		k.probs[i].Line = LineOf(c.root, k.probs[i].Path)
	}
	for i, cn := range c.Connectors {
		if cn.Config == nil {
			continue
		}
		prefix := indexPath("connectors", i) + ".config"
		k.probs = append(k.probs, validateBlock(cn.Config, prefix, c.file, func(rel string) int {
			return LineOf(c.root, joinPath(prefix, rel))
		})...)
	}
	if len(k.probs) == 0 {
		return nil
	}
	sortProblems(k.probs)
	return k.probs
}

func (k *checker) oneOf(path, value string, allowed ...string) bool {
	if value == "" {
		k.add(path, "required: one of %s", strings.Join(allowed, ", "))
		return false
	}
	if !slices.Contains(allowed, value) {
		k.add(path, "%s", oneOfMsg(value, allowed))
		return false
	}
	return true
}

// between checks lo <= d <= hi; hi 0 means no upper bound.
func (k *checker) between(path string, d Duration, lo, hi time.Duration) {
	switch {
	case hi > 0 && (d.Std() < lo || d.Std() > hi):
		k.add(path, "%s is out of bounds: must be between %s and %s", d, Duration(lo), Duration(hi))
	case d.Std() < lo:
		k.add(path, "%s is too short: must be at least %s", d, Duration(lo))
	}
}

func (k *checker) issuer(issuer string) {
	const path = "issuer"
	if issuer == "" {
		k.add(path, "required, e.g. https://id.example.com")
		return
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		k.add(path, "must be an absolute URL, e.g. https://id.example.com")
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())):
		k.add(path, "must use https (http only for 127.0.0.1, ::1 or localhost)")
	case u.User != nil:
		k.add(path, "must not contain a user name or password")
	case u.RawQuery != "" || u.ForceQuery:
		k.add(path, "must not have a query (OIDC Discovery 1.0 §3)")
	case u.Fragment != "" || strings.Contains(issuer, "#"):
		k.add(path, "must not have a fragment (OIDC Discovery 1.0 §3)")
	}
}

// isLoopbackHost reports whether host (without port or brackets) is
// localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// hostPort checks a listen or dial address.
func (k *checker) hostPort(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		var p uint64
		p, err = strconv.ParseUint(port, 10, 16)
		if err == nil && p == 0 {
			err = strconv.ErrRange
		}
	}
	if err != nil || strings.ContainsAny(host, " \t/") {
		k.add(path, "%q is not host:port, e.g. 127.0.0.1:5556", addr)
	}
}

func (k *checker) http(h HTTP) {
	k.hostPort("http.addr", h.Addr)
	switch {
	case h.TLS.Cert != "" && h.TLS.Key == "":
		k.add("http.tls.key", "required when http.tls.cert is set")
	case h.TLS.Key != "" && h.TLS.Cert == "":
		k.add("http.tls.cert", "required when http.tls.key is set")
	}
	for i, cidr := range h.TrustedProxies {
		path := indexPath("http.trustedProxies", i)
		p, err := netip.ParsePrefix(cidr)
		switch {
		case err != nil:
			if a, aerr := netip.ParseAddr(cidr); aerr == nil {
				k.add(path, "%q is an address, not a CIDR: write %s/%d", cidr, cidr, a.BitLen())
			} else {
				k.add(path, "%q is not a CIDR, e.g. 10.0.0.0/8", cidr)
			}
		case p != p.Masked():
			k.add(path, "%q has host bits set (did you mean %s?)", cidr, p.Masked())
		case p.Bits() == 0:
			k.add(path, "%q would trust every client's X-Forwarded-For; list your proxies' networks", cidr)
		}
	}
}

func (k *checker) admin(a Admin, httpAddr string) {
	if a.Addr == "" {
		return
	}
	k.hostPort("admin.addr", a.Addr)
	if a.Addr == httpAddr {
		k.add("admin.addr", "must differ from http.addr: the admin API listens on its own address")
	}
	if a.TokenFile == "" {
		k.add("admin.tokenFile", "required when admin.addr is set")
	}
}

func (k *checker) storage(s Storage) {
	if s.Type == StorageRedis {
		k.add("storage.type", "redis holds only sessions and keys: use memory, sqlite or postgres here and set storage.sessions.type: redis")
	} else {
		k.oneOf("storage.type", s.Type, StorageMemory, StorageSQLite, StoragePostgres)
	}
	sessions := s.Type
	if s.Sessions != nil {
		sessions = s.Sessions.Type
		if k.oneOf("storage.sessions.type", s.Sessions.Type, StorageMemory, StorageSQLite, StoragePostgres, StorageRedis) &&
			sessions == StorageRedis {
			k.redis("storage.sessions.redis", s.Sessions.Redis)
		}
	}
	uses := func(t string) bool { return s.Type == t || sessions == t }
	if uses(StorageSQLite) && s.SQLite.File == "" {
		k.add("storage.sqlite.file", "required when sqlite is used")
	}
	if uses(StoragePostgres) {
		k.postgres(s.Postgres)
	}
}

func (k *checker) postgres(p Postgres) {
	const path = "storage.postgres"
	// Never quote the URL in a message: it may hold a password.
	url := p.URL.Reveal()
	switch {
	case url == "":
		k.add(path+".url", "required when postgres is used")
	case strings.Contains(url, "://"):
		scheme, _, _ := strings.Cut(url, "://")
		if scheme != "postgres" && scheme != "postgresql" {
			k.add(path+".url", "must start with postgres:// or postgresql:// (or be a key=value connection string)")
		}
	case !strings.Contains(url, "="):
		k.add(path+".url", "must be a postgres:// URL or a key=value connection string")
	}
	if p.MaxConns < 1 {
		k.add(path+".maxConns", "must be at least 1")
	}
	if p.MinConns < 0 || p.MinConns > p.MaxConns {
		k.add(path+".minConns", "must be between 0 and maxConns (%d)", p.MaxConns)
	}
	if p.ConnMaxLifetime < 0 {
		k.add(path+".connMaxLifetime", "must not be negative")
	}
}

func (k *checker) redis(path string, r Redis) {
	if len(r.Addrs) == 0 {
		k.add(path+".addrs", "at least one address is required")
	}
	for i, a := range r.Addrs {
		k.hostPort(indexPath(path+".addrs", i), a)
	}
	if r.DB < 0 {
		k.add(path+".db", "must not be negative")
	} else if r.DB != 0 && len(r.Addrs) > 1 && r.MasterName == "" {
		k.add(path+".db", "must be 0 with several addrs: Redis Cluster has only database 0")
	}
	if r.WaitReplicas < 0 {
		k.add(path+".waitReplicas", "must not be negative")
	}
	if r.WaitReplicas > 0 && r.WaitTimeout <= 0 {
		k.add(path+".waitTimeout", "must be positive when waitReplicas is set")
	}
	if !r.TLS.Enabled {
		for _, f := range []struct {
			key string
			set bool
		}{{"caFile", r.TLS.CAFile != ""}, {"serverName", r.TLS.ServerName != ""}, {"insecureSkipVerify", r.TLS.InsecureSkipVerify}} {
			if f.set {
				k.add(path+".tls."+f.key, "has no effect unless tls.enabled is true")
			}
		}
	}
}

// algorithms lists the signing algorithms Foyer supports.
var algorithms = []string{AlgRS256, AlgES256, AlgEdDSA}

func (k *checker) keys(ks Keys) {
	if len(ks.Algorithms) == 0 {
		k.add("keys.algorithms", "at least one is required: %s", strings.Join(algorithms, ", "))
	}
	for i, alg := range ks.Algorithms {
		path := indexPath("keys.algorithms", i)
		if k.oneOf(path, alg, algorithms...) && slices.Index(ks.Algorithms, alg) < i {
			k.add(path, "%s is listed twice", alg)
		}
	}
	k.between("keys.rotationPeriod", ks.RotationPeriod, time.Hour, 0)
	switch {
	case ks.KEK.File == "" && ks.KEK.Env == "":
		k.add("keys.kek", "required: set file or env (the key-encryption key)")
	case ks.KEK.File != "" && ks.KEK.Env != "":
		k.add("keys.kek", "set file or env, not both")
	case ks.KEK.Env != "" && !validEnvName(ks.KEK.Env):
		k.add("keys.kek.env", "%q is not an environment variable name", ks.KEK.Env)
	}
}

func (k *checker) tokens(t Tokens) {
	const p = "tokens."
	k.between(p+"idToken", t.IDToken, time.Minute, 24*time.Hour)
	k.between(p+"accessToken", t.AccessToken, time.Minute, 24*time.Hour)
	k.between(p+"refreshIdle", t.RefreshIdle, time.Minute, 0)
	k.between(p+"refreshAbsolute", t.RefreshAbsolute, time.Minute, 0)
	if t.RefreshIdle > t.RefreshAbsolute {
		k.add(p+"refreshIdle", "must not exceed refreshAbsolute (%s)", t.RefreshAbsolute)
	}
	if t.RefreshReuseGrace != nil {
		k.between(p+"refreshReuseGrace", *t.RefreshReuseGrace, 0, time.Minute)
	}
	k.between(p+"authCode", t.AuthCode, 10*time.Second, 10*time.Minute)
	k.between(p+"authRequest", t.AuthRequest, time.Minute, time.Hour)
}
