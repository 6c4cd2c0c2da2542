package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/foyerid/foyer/storage"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteFiles embed.FS

// ErrNotDatabase is returned by OpenSQLite for a file that exists but is not
// a SQLite database.
var ErrNotDatabase = errors.New("sqlstore: not a SQLite database")

// sqliteDialect is SQLite through modernc.org/sqlite. Write transactions
// begin IMMEDIATE (the DSN's _txlock), so they hold the database's one write
// lock from BEGIN: row locks are not needed, and neither is a migration
// lock.
var sqliteDialect = &dialect{
	name:       "sqlite",
	forUpdate:  "",
	migrations: mustSub(sqliteFiles, "migrations/sqlite"),
	lockMigrations: func(context.Context, *sql.Tx) error {
		return nil // BEGIN IMMEDIATE already excludes every other writer
	},
	isUnique: func(err error) bool {
		c := sqliteCode(err)
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	isForeignKey: func(err error) bool {
		return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	},
	isUnavailable: func(err error) bool {
		switch sqliteCode(err) & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PROTOCOL:
			return true
		}
		return false
	},
}

// sqliteCode returns the extended SQLite result code behind err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// OpenSQLite opens (creating it if needed) the SQLite database file at path,
// brings its schema up to date and returns a Store on it.
//
// The file is opened in WAL mode with foreign keys on, synchronous=FULL and
// a busy timeout (5s unless WithBusyTimeout says otherwise). Two pools share
// it: one connection for every write, whose transactions begin IMMEDIATE, and
// a few query_only connections for plain reads. Writers in this process
// therefore queue in database/sql, never in SQLite's busy handler, so no
// amount of concurrency within one process yields SQLITE_BUSY; readers never
// wait for the writer under WAL. The busy timeout only matters when another
// process writes to the same file.
//
// Errors: a file that is not a SQLite database gives ErrNotDatabase; a file
// another process holds locked past the busy timeout gives an error that
// wraps storage.ErrUnavailable; a schema newer than this binary knows gives
// ErrSchemaTooNew. Each names the file.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := newOptions(opts)
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("sqlstore: open %q: a database file path is required", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	// The DSN is a file: URI so that any byte of the path survives.
	u := url.URL{Scheme: "file", Path: abs}
	busy := strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)
	common := url.Values{}
	common.Set("_busy_timeout", busy)
	common.Set("_foreign_keys", "1")

	wq := url.Values{}
	for k, v := range common {
		wq[k] = v
	}
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "FULL")
	wq.Set("_txlock", "immediate")
	u.RawQuery = wq.Encode()
	w, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, sqliteOpenError(abs, err)
	}

	s := newStore(sqliteDialect, w, w, abs, o)
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, sqliteOpenError(abs, err)
	}

	rq := url.Values{}
	for k, v := range common {
		rq[k] = v
	}
	rq.Add("_pragma", "query_only(1)")
	u.RawQuery = rq.Encode()
	r, err := sql.Open("sqlite", u.String())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", abs, err)
	}
	readers := o.poolSize
	if readers <= 0 {
		readers = max(4, runtime.GOMAXPROCS(0))
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, sqliteOpenError(abs, err)
	}
	s.r = r
	return s, nil
}

// sqliteOpenError explains why a file could not be opened, naming it.
func sqliteOpenError(path string, err error) error {
	if errors.Is(err, ErrSchemaTooNew) {
		return fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("%w: %s (%w)", ErrNotDatabase, path, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("sqlstore: open %s: database is locked by another process: %w: %w",
			path, storage.ErrUnavailable, err)
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY:
		return fmt.Errorf("sqlstore: open %s: cannot open the database file: %w", path, err)
	}
	return fmt.Errorf("sqlstore: open %s: %w", path, err)
}

// mustSub returns a sub-tree of an embedded file system; the directory is
// part of this package, so failing is a build mistake.
func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("sqlstore: embedded migrations: " + err.Error())
	}
	return sub
}
