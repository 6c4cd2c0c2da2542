package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/foyerid/foyer/storage"
	"github.com/redis/go-redis/v9"
)

// slack is how long Redis keeps a record past its expiry by the store's
// clock. Expiry is judged by that clock; the native TTL only reclaims
// space, and the slack keeps a record from vanishing early when the
// workers' clocks run ahead of each other.
const slack = time.Minute

// defaultWaitTimeout bounds a WAIT when Config.WaitTimeout is zero.
const defaultWaitTimeout = 100 * time.Millisecond

// Config says where Redis is and how the store uses it.
type Config struct {
	// Addrs are host:port addresses: one for a standalone server, the
	// seed nodes of a Cluster, or the sentinels when MasterName is set.
	Addrs []string
	// MasterName selects Sentinel mode: the name of the master the
	// sentinels watch.
	MasterName string
	// Username and Password authenticate: an ACL user, or requirepass
	// alone with an empty Username. Password is never logged.
	Username, Password string
	// DB is the database number. Cluster has only database 0.
	DB int
	// KeyPrefix starts every key the store writes, so that several
	// deployments can share one Redis. It must not contain '{' or '}':
	// the store's own hash tags follow it.
	KeyPrefix string
	// TLS, when not nil, connects with TLS.
	TLS *tls.Config
	// WaitReplicas, when above 0, makes the store WAIT for that many
	// replicas after each write that changes security state (a code
	// redeemed, a refresh token rotated, anything revoked), so that a
	// failover does not bring back what was used or revoked. Fewer
	// acknowledgements are logged as a warning, not returned as errors.
	WaitReplicas int
	// WaitTimeout bounds each WAIT; 100ms when zero.
	WaitTimeout time.Duration
}

// String describes c without its password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = "[redacted]"
	}
	return fmt.Sprintf("redisstore.Config{Addrs:%v MasterName:%q Username:%q Password:%s DB:%d KeyPrefix:%q TLS:%t WaitReplicas:%d WaitTimeout:%v}",
		c.Addrs, c.MasterName, c.Username, pw, c.DB, c.KeyPrefix, c.TLS != nil, c.WaitReplicas, c.WaitTimeout)
}

// LogValue logs c without its password.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Option configures a Store.
type Option func(*options)

type options struct {
	now         func() time.Time
	log         *slog.Logger
	dialTimeout time.Duration
	ioTimeout   time.Duration
}

// WithClock sets the clock expiry, leases and rate-limit windows are
// judged by (time.Now by default). Redis's own clock is never read; it
// only runs the native TTLs that reclaim space.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithLogger sets the logger for warnings (too few replicas acknowledged a
// write). Nothing is logged by default; records and secrets never are.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithTimeouts sets how long a connection may take to open (dial, 2s by
// default) and a command to be written or answered (rw, 2s by default).
// Past them an operation fails with storage.ErrUnavailable. A context
// deadline shortens both.
func WithTimeouts(dial, rw time.Duration) Option {
	return func(o *options) {
		if dial > 0 {
			o.dialTimeout = dial
		}
		if rw > 0 {
			o.ioTimeout = rw
		}
	}
}

// Store is storage.State on Redis. It is safe for concurrent use.
type Store struct {
	rdb          redis.UniversalClient
	prefix       string
	now          func() time.Time
	log          *slog.Logger
	waitReplicas int
	waitTimeout  time.Duration
}

// Open connects to Redis through go-redis's universal client (standalone,
// Sentinel when cfg.MasterName is set, Cluster with several addresses),
// and pings it. An unreachable Redis gives an error wrapping
// storage.ErrUnavailable.
//
// Every command goes to a master: the client never reads from replicas
// (ReadOnly, RouteByLatency and RouteRandomly stay off), and it does not
// retry a command whose connection failed, since a script that ran before
// its reply was lost must not run twice (a second rotation of a refresh
// token would read as reuse).
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	o := options{now: time.Now, dialTimeout: 2 * time.Second, ioTimeout: 2 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case len(cfg.Addrs) == 0:
		return nil, errors.New("redisstore: open: no address")
	case strings.ContainsAny(cfg.KeyPrefix, "{}"):
		return nil, fmt.Errorf("redisstore: open: key prefix %q holds '{' or '}'", cfg.KeyPrefix)
	case cfg.DB < 0:
		return nil, fmt.Errorf("redisstore: open: negative database %d", cfg.DB)
	case cfg.DB != 0 && len(cfg.Addrs) > 1 && cfg.MasterName == "":
		return nil, errors.New("redisstore: open: Redis Cluster has only database 0")
	case cfg.WaitReplicas < 0:
		return nil, fmt.Errorf("redisstore: open: negative WaitReplicas %d", cfg.WaitReplicas)
	case cfg.WaitTimeout < 0:
		return nil, fmt.Errorf("redisstore: open: negative WaitTimeout %v", cfg.WaitTimeout)
	}
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 cfg.Addrs,
		MasterName:            cfg.MasterName,
		Username:              cfg.Username,
		Password:              cfg.Password,
		DB:                    cfg.DB,
		TLSConfig:             cfg.TLS,
		ClientName:            "foyer",
		MaxRetries:            -1,
		DialTimeout:           o.dialTimeout,
		DialerRetries:         2,
		DialerRetryTimeout:    50 * time.Millisecond,
		ReadTimeout:           o.ioTimeout,
		WriteTimeout:          o.ioTimeout,
		ContextTimeoutEnabled: true,
	})
	s := &Store{
		rdb:          rdb,
		prefix:       cfg.KeyPrefix,
		now:          o.now,
		log:          o.log,
		waitReplicas: cfg.WaitReplicas,
		waitTimeout:  cfg.WaitTimeout,
	}
	if s.waitTimeout == 0 {
		s.waitTimeout = defaultWaitTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, o.dialTimeout+o.ioTimeout)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redisstore: open: ping %s: %w", strings.Join(cfg.Addrs, ","), classify(err))
	}
	return s, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", classify(err))
	}
	return nil
}

// Close closes the connections. Operations on a closed store fail with
// storage.ErrUnavailable.
func (s *Store) Close() error {
	if err := s.rdb.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// EvictionPolicy returns Redis's maxmemory-policy (every master's, in a
// Cluster: the first that is not noeviction), so that readiness checks can
// warn when Redis may evict sessions and keys. It returns "" and no error
// when CONFIG is disabled, renamed or not permitted, as on many managed
// services.
func (s *Store) EvictionPolicy(ctx context.Context) (string, error) {
	get := func(ctx context.Context, c *redis.Client) (string, error) {
		m, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		if err != nil {
			if configRefused(err) {
				return "", nil
			}
			return "", err
		}
		return m["maxmemory-policy"], nil
	}
	var policy string
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			p, err := get(ctx, n)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if policy == "" || policy == "noeviction" {
				policy = p
			}
			return nil
		})
	case *redis.Client:
		policy, err = get(ctx, c)
	default:
		return "", fmt.Errorf("redisstore: eviction policy: unexpected client %T", s.rdb)
	}
	if err != nil {
		return "", fmt.Errorf("redisstore: eviction policy: %w", classify(err))
	}
	return policy, nil
}

// configRefused reports whether err says CONFIG GET may not run here.
func configRefused(err error) bool {
	if redis.IsPermissionError(err) {
		return true
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := strings.ToLower(re.Error())
	return strings.Contains(msg, "unknown command") || strings.Contains(msg, "noperm") ||
		strings.Contains(msg, "not allowed") || strings.Contains(msg, "disabled")
}

// classify wraps err with storage.ErrUnavailable when it says Redis cannot
// be reached or cannot serve now (down, closed, timed out, loading, out of
// memory, failing over); other errors are returned as they are.
func classify(err error) error {
	if err == nil || errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, redis.ErrPoolExhausted) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) ||
		redis.IsOOMError(err) || redis.IsNoReplicasError(err) || redis.HasErrorPrefix(err, "BUSY") {
		return true
	}
	// go-redis reports a few of its own conditions as plain errors.
	msg := err.Error()
	return strings.Contains(msg, "sentinels specified in configuration are unreachable") ||
		strings.Contains(msg, "cluster has no nodes") || strings.Contains(msg, "connection unusable")
}

// fail wraps a failed operation's error.
func fail(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w", op, classify(err))
}

// key is the key of a record: the prefix, then the record's hash tag.
func (s *Store) key(kind, id string) string {
	return s.prefix + "{" + kind + ":" + id + "}"
}

// ms is t in Unix milliseconds, the unit of every time Redis sees.
func ms(t time.Time) int64 { return t.UnixMilli() }

// jsonTime formats t as encoding/json does, for scripts that write times
// into records.
func jsonTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// ttl is how many milliseconds Redis keeps a record that expires at exp by
// the clock reading now: until then, plus slack.
func ttl(exp, now time.Time) int64 {
	return (max(exp.Sub(now), 0) + slack).Milliseconds()
}

// effective is the instant a record with an idle and an absolute expiry
// (zero: none) is gone.
func effective(idle, absolute time.Time) time.Time {
	if !absolute.IsZero() && absolute.Before(idle) {
		return absolute
	}
	return idle
}

// msOrZero is t in milliseconds, or 0 for the zero time.
func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

// record is a record as stored: "X A N\nJSON", its expiry X and absolute
// expiry A (0: none) in Unix ms, a kind-specific number N (a grant's
// rotation time, a code's used flag), and the JSON of the storage type.
type record struct {
	x, a, n int64
	doc     string
}

// encode formats r as stored.
func (r record) encode() string {
	return strconv.FormatInt(r.x, 10) + " " + strconv.FormatInt(r.a, 10) + " " +
		strconv.FormatInt(r.n, 10) + "\n" + r.doc
}

// parseRecord reads a stored record; ok is false if v is not one.
func parseRecord(v string) (r record, ok bool) {
	head, doc, found := strings.Cut(v, "\n")
	if !found {
		return record{}, false
	}
	f := strings.Fields(head)
	if len(f) != 3 {
		return record{}, false
	}
	var err [3]error
	r.x, err[0] = strconv.ParseInt(f[0], 10, 64)
	r.a, err[1] = strconv.ParseInt(f[1], 10, 64)
	r.n, err[2] = strconv.ParseInt(f[2], 10, 64)
	if errors.Join(err[:]...) != nil {
		return record{}, false
	}
	r.doc = doc
	return r, true
}

// live reports whether r has not expired at now.
func (r record) live(now time.Time) bool { return r.x > now.UnixMilli() }

// Interface guards
var _ storage.State = (*Store)(nil)
