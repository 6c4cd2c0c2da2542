package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// ErrSchemaTooNew is returned when the database was migrated by a newer
// Foyer than this one: running on it could lose data.
var ErrSchemaTooNew = errors.New("sqlstore: database schema is newer than this Foyer supports")

// schemaTooNew says which versions, and matches ErrSchemaTooNew.
type schemaTooNew struct{ have, known int }

func (e schemaTooNew) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this Foyer supports (%d); upgrade Foyer",
		e.have, e.known)
}

func (e schemaTooNew) Is(target error) bool { return target == ErrSchemaTooNew }

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads NNNN_name.sql files from fsys, in order. Versions
// must run 1, 2, 3... without gaps.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the schema up to date: each pending migration runs in its
// own transaction, under the dialect's migration lock, and records its
// version in schema_version. Concurrent start-ups are safe: each migration
// re-reads the version under the lock.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.d.migrations)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", s.d.name, err)
	}
	latest := len(ms)
	// The first transaction creates the version table if needed and checks
	// the database is not from the future, before anything changes.
	var current int
	err = s.migrationTx(ctx, func(t tx) error {
		current, err = schemaVersion(ctx, t)
		return err
	})
	if err != nil {
		return err
	}
	if current > latest {
		return schemaTooNew{have: current, known: latest}
	}
	for _, m := range ms[current:] {
		applied := false
		err := s.migrationTx(ctx, func(t tx) error {
			v, err := schemaVersion(ctx, t)
			if err != nil {
				return err
			}
			if v >= m.version {
				return nil // another process got here first
			}
			if v != m.version-1 {
				return fmt.Errorf("schema version %d, expected %d", v, m.version-1)
			}
			if _, err := t.tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := t.exec(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
				m.version, s.nowMillis()); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
			applied = true
			return nil
		})
		if err != nil {
			return err
		}
		if applied {
			s.log.Info("sqlstore: applied migration", "dialect", s.d.name, "migration", m.name)
		}
	}
	return nil
}

// migrationTx runs fn in a write transaction holding the migration lock.
// Errors are returned unmapped so the opener can explain them.
func (s *Store) migrationTx(ctx context.Context, fn func(t tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	t := tx{s: s, tx: sqlTx}
	err = s.d.lockMigrations(ctx, sqlTx)
	if err == nil {
		err = fn(t)
	}
	if err != nil {
		_ = sqlTx.Rollback()
		return fmt.Errorf("migrate: %w", err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// schemaVersion creates the version table if needed and returns the
// highest version applied (0 for a new database).
func schemaVersion(ctx context.Context, t tx) (int, error) {
	if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return 0, fmt.Errorf("create schema_version: %w", err)
	}
	var v int
	if err := t.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema_version: %w", err)
	}
	return v, nil
}
