package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
	"strings"
)

// dialect is everything that differs between the SQL databases Foyer runs
// on. The queries themselves are shared: they are written with '?'
// placeholders and use only syntax both SQLite (3.35 or later) and
// PostgreSQL (9.5 or later) speak, ON CONFLICT ... DO NOTHING / DO UPDATE
// and RETURNING included. See doc.go for what a new dialect must provide.
type dialect struct {
	// name is the dialect's name in errors and logs ("sqlite", "postgres").
	name string
	// placeholder returns the n-th (1-based) bind parameter: "?" or "$n".
	// Nil means '?' as written.
	placeholder func(n int) string
	// forUpdate is appended to a SELECT that reads a row a transaction is
	// about to change: " FOR UPDATE" where the database locks rows, "" where
	// a write transaction already holds the whole database (SQLite under
	// BEGIN IMMEDIATE).
	forUpdate string
	// migrations holds this dialect's schema as NNNN_name.sql files, applied
	// in order. DDL type names (INTEGER or BIGINT, BLOB or BYTEA, identity
	// columns) live there.
	migrations fs.FS
	// lockMigrations runs first in every migration transaction and must
	// keep any other process from migrating until the transaction ends.
	lockMigrations func(ctx context.Context, tx *sql.Tx) error
	// isUnique reports a unique or primary key violation.
	isUnique func(err error) bool
	// isForeignKey reports a foreign key violation.
	isForeignKey func(err error) bool
	// isUnavailable reports an error of the connection rather than of the
	// statement: cannot connect, connection lost, database locked by
	// another process beyond the busy timeout, server shutting down.
	isUnavailable func(err error) bool
}

// rebind turns the '?' placeholders of a shared query into the dialect's.
// Queries never hold a '?' inside a literal.
func (d *dialect) rebind(query string) string {
	if d.placeholder == nil {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteString(d.placeholder(n))
	}
	return b.String()
}
