package sqlstore

import (
	"log/slog"
	"time"
)

// Option configures a Store.
type Option func(*options)

type options struct {
	now         func() time.Time
	log         *slog.Logger
	busyTimeout time.Duration
	poolSize    int
	minConns    int
	maxLifetime time.Duration
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, busyTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

// WithClock sets the clock expiry is judged by (time.Now by default). The
// database's own clock is never used.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithLogger sets the logger for migrations and housekeeping. Nothing is
// logged by default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithBusyTimeout sets how long SQLite waits for a lock another process
// holds before giving up (5s by default).
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.busyTimeout = d
		}
	}
}

// WithPoolSize sets the number of connections: SQLite's read connections
// (by default the larger of 4 and GOMAXPROCS; writes always have their one
// connection) or PostgreSQL's whole pool (10 by default).
func WithPoolSize(n int) Option {
	return func(o *options) { o.poolSize = n }
}

// WithMinConns opens n PostgreSQL connections at start-up and keeps them
// idle in the pool (at most the pool size), so the first requests after a
// start do not wait for connections.
func WithMinConns(n int) Option {
	return func(o *options) { o.minConns = n }
}

// WithConnMaxLifetime closes PostgreSQL connections older than d (0: never),
// so a pool follows a database fail-over or DNS change.
func WithConnMaxLifetime(d time.Duration) Option {
	return func(o *options) { o.maxLifetime = d }
}
