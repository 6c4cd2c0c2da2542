package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

// openTemp opens a fresh SQLite store in the test's temp directory.
func openTemp(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "foyer.db")
	s, err := OpenSQLite(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// rawSQLite opens path with the driver alone, bypassing the store.
func rawSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenSQLiteMigratesOnce(t *testing.T) {
	t.Parallel()
	s, path := openTemp(t)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.CreateClient(ctx, storage.Client{ID: "app"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Reopening keeps the data and applies nothing twice.
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if _, err := s2.Client(ctx, "app"); err != nil {
		t.Fatalf("Client after reopen: %v", err)
	}
	var n, v int
	if err := s2.r.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	want, err := loadMigrations(sqliteDialect.migrations)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) || v != len(want) {
		t.Errorf("schema_version has %d rows, max %d; want %d", n, v, len(want))
	}
}

func TestOpenSQLiteErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		opts  []Option
		want  error
	}{
		{
			name: "not a database",
			setup: func(t *testing.T, path string) {
				garbage := []byte(strings.Repeat("this is not a SQLite database, just text. ", 200))
				if err := os.WriteFile(path, garbage, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: ErrNotDatabase,
		},
		{
			name: "schema from the future",
			setup: func(t *testing.T, path string) {
				s, err := OpenSQLite(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				db := rawSQLite(t, path)
				if _, err := db.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (999, 0)`); err != nil {
					t.Fatal(err)
				}
				db.Close()
			},
			want: ErrSchemaTooNew,
		},
		{
			name: "locked by another writer",
			setup: func(t *testing.T, path string) {
				db := rawSQLite(t, path)
				ctx := context.Background()
				// Hold the write lock for the rest of the test.
				conn, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				for _, q := range []string{`BEGIN IMMEDIATE`, `CREATE TABLE other (x INTEGER)`} {
					if _, err := conn.ExecContext(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			},
			opts: []Option{WithBusyTimeout(50 * time.Millisecond)},
			want: storage.ErrUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "foyer.db")
			tt.setup(t, path)
			s, err := OpenSQLite(context.Background(), path, tt.opts...)
			if err == nil {
				s.Close()
				t.Fatal("OpenSQLite succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("OpenSQLite: %v; want errors.Is %v", err, tt.want)
			}
			t.Logf("error: %v", err)
			// The message must say which file; this is the one place a
			// test reads an error's text.
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
		})
	}
}

func TestSchemaTooNewMessage(t *testing.T) {
	t.Parallel()
	err := schemaTooNew{have: 7, known: 3}
	want := "database schema version 7 is newer than this Foyer supports (3); upgrade Foyer"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		call func() error
	}{
		{name: "Ping", call: func() error { return s.Ping(ctx) }},
		{name: "User", call: func() error { _, err := s.User(ctx, "u"); return err }},
		{name: "CreateClient", call: func() error { return s.CreateClient(ctx, storage.Client{ID: "c"}) }},
		{name: "RedeemAuthCode", call: func() error { _, err := s.RedeemAuthCode(ctx, "x"); return err }},
		{name: "Remember", call: func() error { return s.Remember(ctx, "k", time.Now().Add(time.Hour)) }},
		{name: "Sweep", call: func() error { _, err := s.Sweep(ctx); return err }},
	}
	for _, c := range checks {
		if err := c.call(); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s after Close: %v; want ErrUnavailable", c.name, err)
		}
	}
}
