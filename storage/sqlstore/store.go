package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foyerid/foyer/storage"
)

// Store is a SQL database holding both halves of Foyer's state: it
// implements storage.Directory, storage.State and storage.Sweeper.
// It is safe for concurrent use.
type Store struct {
	d *dialect
	// w runs every write and every atomic read-modify-write; r runs plain
	// reads. They are the same pool unless the dialect (SQLite) needs its
	// writes funnelled through one connection.
	w, r *sql.DB
	// where names the database in errors (a file path or a host).
	where  string
	now    func() time.Time
	log    *slog.Logger
	closed atomic.Bool
	// queries caches rebound query text by shared query text.
	queries sync.Map
}

func newStore(d *dialect, w, r *sql.DB, where string, o options) *Store {
	return &Store{d: d, w: w, r: r, where: where, now: o.now, log: o.log}
}

// Store returns s as both halves of a storage.Store.
func (s *Store) Store() storage.Store {
	return storage.Store{Directory: s, State: s}
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return s.fail("ping", err)
	}
	if s.r != s.w {
		var one int
		if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return s.fail("ping", err)
		}
	}
	return nil
}

// Close closes the database. Later calls fail with storage.ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if err != nil {
		return fmt.Errorf("sqlstore: close %s: %w", s.where, err)
	}
	return nil
}

// q returns query with the dialect's placeholders.
func (s *Store) q(query string) string {
	if s.d.placeholder == nil {
		return query
	}
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	v := s.d.rebind(query)
	s.queries.Store(query, v)
	return v
}

// exec runs one statement on the write pool.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.w.ExecContext(ctx, s.q(query), args...)
}

// queryRow runs a read on the read pool.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.r.QueryRowContext(ctx, s.q(query), args...)
}

// query runs a read returning rows on the read pool.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.r.QueryContext(ctx, s.q(query), args...)
}

// tx is a write transaction with the dialect's placeholders applied.
type tx struct {
	s  *Store
	tx *sql.Tx
}

func (t tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.s.q(query), args...)
}

func (t tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.s.q(query), args...)
}

func (t tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.s.q(query), args...)
}

// forUpdate is the dialect's row-lock suffix for a SELECT in t.
func (t tx) forUpdate() string { return t.s.d.forUpdate }

// write runs fn in one write transaction and commits it if fn returns nil.
// Operations that must commit a change and still report an outcome (a
// refresh token reuse revokes the grant, then says ErrReuse) return nil from
// fn and carry the outcome beside it.
func (s *Store) write(ctx context.Context, op string, fn func(t tx) error) error {
	if s.closed.Load() {
		return s.fail(op, errClosed)
	}
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(op, err)
	}
	if err := fn(tx{s: s, tx: sqlTx}); err != nil {
		_ = sqlTx.Rollback()
		if ce, ok := err.(*callerError); ok {
			return ce.err
		}
		return s.fail(op, err)
	}
	if err := sqlTx.Commit(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// callerError carries an error from a caller's update function, which is
// returned as is.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }

// errClosed stands for any use of a closed Store.
var errClosed = errors.New("store is closed")

// fail wraps err with the operation's name and maps what callers branch on
// to the storage sentinels: no rows is ErrNotFound, a unique violation
// ErrConflict, a connection-level failure ErrUnavailable.
func (s *Store) fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: %s: %w", op, storage.ErrNotFound)
	case isSentinel(err):
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	case s.d.isUnique(err):
		return fmt.Errorf("sqlstore: %s: %w: %w", op, storage.ErrConflict, err)
	case s.unavailable(err):
		return fmt.Errorf("sqlstore: %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// unavailable reports an error of the connection rather than the statement.
func (s *Store) unavailable(err error) bool {
	if s.closed.Load() || errors.Is(err, errClosed) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, driver.ErrBadConn) {
		return true
	}
	// database/sql does not export the error it returns once the pool is
	// closed.
	if err.Error() == "sql: database is closed" {
		return true
	}
	return s.d.isUnavailable(err)
}

// isSentinel reports an error that already says what callers branch on.
func isSentinel(err error) bool {
	for _, e := range []error{storage.ErrNotFound, storage.ErrConflict, storage.ErrAlreadyUsed,
		storage.ErrReuse, storage.ErrRevoked, storage.ErrUnavailable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// affected returns the rows a statement changed.
func affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// Times are stored as integer Unix milliseconds (UTC), so every dialect
// orders and compares them alike. The zero time.Time survives the round
// trip.

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nowMillis is the injected clock's now, for a query parameter.
func (s *Store) nowMillis() int64 { return s.now().UnixMilli() }

// jsonList encodes a list for a JSON text column.
func jsonList(v []string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode list: %w", err)
	}
	return string(b), nil
}

// parseList decodes a JSON text column into a list.
func parseList(s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	return v, nil
}

// encode marshals a session-kind record for its data column.
func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return b, nil
}

// decode unmarshals a data column.
func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}

// expiry is when a record with an idle and an absolute expiry (zero: none)
// stops being live.
func expiry(idle, absolute time.Time) time.Time {
	if !absolute.IsZero() && absolute.Before(idle) {
		return absolute
	}
	return idle
}

// Interface guards.
var (
	_ storage.Directory = (*Store)(nil)
	_ storage.State     = (*Store)(nil)
	_ storage.Sweeper   = (*Store)(nil)
)
