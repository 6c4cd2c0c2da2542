// Package sqlstore is Foyer's SQL storage backend: one implementation of
// storage.Directory, storage.State and storage.Sweeper over database/sql,
// with the differences between databases confined to a small dialect.
// SQLite (modernc.org/sqlite, pure Go; OpenSQLite) is the embedded
// default; PostgreSQL (pgx's database/sql driver; OpenPostgres) is a second
// dialect of the same code.
//
// # Layout of the data
//
// Directory records are relational rows with one column per field.
// Session-kind records (auth requests, codes, grants, sessions, device
// requests) are stored as JSON in a data column beside the columns their
// lookups and expiry need. Every refresh token a grant ever had is a row of
// refresh_tokens (token hash to grant), so a rotated token is recognised as
// reuse. Times are integer Unix milliseconds (UTC) in every dialect;
// expiry is judged against the injected clock, passed to each query as a
// parameter, never against the database's clock. Bearer secrets arrive
// hashed (storage.HashSecret) and private keys sealed; the package stores
// them as given and never logs a record.
//
// Every atomic operation of the contracts (RedeemAuthCode,
// RotateRefreshToken, ClaimDeviceCode, TakeAuthRequest, Remember,
// AcquireLease, SwapKeySet, LinkIdentity, the Update functions) is one
// transaction, or one conditional statement, on the write pool. Unique
// violations become storage.ErrConflict; connection failures (closed store,
// unreachable server, a file another process keeps locked) wrap
// storage.ErrUnavailable.
//
// # Schema migrations
//
// Migrations are embedded SQL files, migrations/<dialect>/NNNN_name.sql,
// numbered from 1 without gaps. At start-up each pending one runs in its own
// transaction under the dialect's migration lock and records its number in
// schema_version. A database whose version is higher than the highest file
// is refused (ErrSchemaTooNew): a new migration is a new file, never an edit
// of a released one, and each dialect gets the same numbered change.
//
// # SQLite
//
// See OpenSQLite: WAL, foreign keys, synchronous=FULL, a busy timeout, and
// two pools over the file: a single write connection whose transactions
// BEGIN IMMEDIATE, and several read-only connections. Writers of one process
// queue in database/sql rather than spin in SQLite's busy handler, which is
// what keeps SQLITE_BUSY out of heavy races; readers never wait under WAL.
//
// # PostgreSQL
//
// See OpenPostgres: one pool for reads and writes, READ COMMITTED
// transactions that lock the rows they change (SELECT ... FOR UPDATE),
// conditional statements that PostgreSQL re-checks after a row lock wait,
// and a transaction-scoped advisory lock around each migration so that
// workers starting together migrate once.
//
// # Adding a dialect
//
// The queries are shared and use '?' placeholders, ON CONFLICT ... DO
// NOTHING / DO UPDATE ... WHERE and RETURNING (SQLite 3.35+, PostgreSQL
// 9.5+). A dialect (see the dialect struct) provides:
//
//   - its placeholder style (rebinding '?' to "$1", "$2"...);
//   - its row-lock suffix for a SELECT inside a write transaction
//     (" FOR UPDATE", or "" where a write transaction locks the database);
//   - its migrations, written with its own DDL types (BIGINT for times,
//     BOOLEAN or INTEGER flags, BYTEA or BLOB data, an identity column for
//     the audit sequence), table and column names identical to SQLite's;
//   - a migration lock taken first in every migration transaction (for
//     PostgreSQL a transaction-scoped advisory lock; nothing for SQLite,
//     whose BEGIN IMMEDIATE already excludes other writers);
//   - classifiers for unique and foreign key violations and for
//     connection-level errors (cannot connect, connection lost, busy or
//     locked past the timeout, server shutting down);
//   - an Open function that builds the write and read pools (they may be
//     the same pool) and calls newStore and migrate.
//
// Booleans are always bound as Go bools, never written as 0/1 literals, so
// the same query works against INTEGER and BOOLEAN columns.
//
// This package imports storage and nothing else from Foyer; nothing in
// Foyer but the wiring in cmd should import it.
package sqlstore
