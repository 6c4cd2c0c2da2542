package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/foyerid/foyer/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/postgres/*.sql
var postgresFiles embed.FS

// migrationLockKey is the advisory lock every Foyer migration takes
// ("Foyer" in ASCII).
const migrationLockKey = 0x466f796572

// postgresDialect is PostgreSQL through pgx's database/sql driver. One pool
// serves reads and writes; transactions run at READ COMMITTED and lock the
// rows they change with SELECT ... FOR UPDATE, and the conditional UPDATE,
// DELETE and upsert statements re-check their WHERE after waiting for a
// row lock, which is what makes them atomic.
var postgresDialect = &dialect{
	name:        "postgres",
	placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	forUpdate:   " FOR UPDATE",
	migrations:  mustSub(postgresFiles, "migrations/postgres"),
	lockMigrations: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey))
		if err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		return nil
	},
	isUnique:     func(err error) bool { return pgCode(err) == "23505" },
	isForeignKey: func(err error) bool { return pgCode(err) == "23503" },
	isUnavailable: func(err error) bool {
		code := pgCode(err)
		switch {
		case strings.HasPrefix(code, "08"), // connection exception
			code == "53300",                                   // too many connections
			code == "57P01", code == "57P02", code == "57P03": // shutting down, cannot connect now
			return true
		case code != "":
			return false
		}
		var (
			ce *pgconn.ConnectError
			ne net.Error
		)
		return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
			errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	},
}

// pgCode returns the SQLSTATE behind err, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// OpenPostgres connects to the PostgreSQL database dsn names (a URL or a
// keyword/value string, as pgx parses it), brings its schema up to date and
// returns a Store on it. Migrations of several Foyer processes starting at
// once are serialised by an advisory lock.
//
// One pool (WithPoolSize, 10 connections by default) serves reads and
// writes. A server that cannot be reached gives an error wrapping
// storage.ErrUnavailable; a schema newer than this binary knows gives
// ErrSchemaTooNew.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := newOptions(opts)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parser's message may quote the DSN, password included.
		return nil, errors.New("sqlstore: open postgres: the connection string does not parse")
	}
	where := fmt.Sprintf("postgres %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	db := stdlib.OpenDB(*cfg)
	size := o.poolSize
	if size <= 0 {
		size = 10
	}
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	db.SetConnMaxLifetime(o.maxLifetime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, postgresOpenError(where, err)
	}
	if err := warmPool(ctx, db, min(o.minConns, size)); err != nil {
		db.Close()
		return nil, postgresOpenError(where, err)
	}
	s := newStore(postgresDialect, db, db, where, o)
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, postgresOpenError(where, err)
	}
	return s, nil
}

// postgresOpenError explains why a database could not be opened, naming it
// (never with its password).
func postgresOpenError(where string, err error) error {
	if !errors.Is(err, ErrSchemaTooNew) && postgresDialect.isUnavailable(err) {
		return fmt.Errorf("sqlstore: open %s: %w: %w", where, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: open %s: %w", where, err)
}

// warmPool opens n connections and returns them to the pool idle.
func warmPool(ctx context.Context, db *sql.DB, n int) error {
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}
