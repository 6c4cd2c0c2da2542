package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/storagetest"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// postgresAdmin returns the URL of a PostgreSQL server the tests may create
// databases on: FOYER_TEST_POSTGRES_URL, or the standard local port. With
// none reachable the test fails under CI=true and is skipped, loudly,
// elsewhere.
func postgresAdmin(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("FOYER_TEST_POSTGRES_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=5"
	}
	db, err := sql.Open("pgx", admin)
	if err == nil {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI: %v", err)
		}
		t.Skipf("SKIPPING PostgreSQL tests: no server (set FOYER_TEST_POSTGRES_URL): %v", err)
	}
	return admin
}

// throwawayPostgres creates an empty database, drops it when t ends, and
// returns its URL.
func throwawayPostgres(t *testing.T, admin string) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "foyer_sqlstore_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if _, err := db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("FOYER_TEST_POSTGRES_URL must be a URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestPostgres runs the conformance suite against PostgreSQL, one fresh
// database per subtest.
func TestPostgres(t *testing.T) {
	t.Parallel()
	admin := postgresAdmin(t)
	storagetest.Run(t, func(t *testing.T, clock *storagetest.Clock) storage.Store {
		s, err := OpenPostgres(t.Context(), throwawayPostgres(t, admin), WithClock(clock.Now))
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s.Store()
	})
}

func TestOpenPostgresErrors(t *testing.T) {
	t.Parallel()
	admin := postgresAdmin(t)
	t.Run("schema from the future", func(t *testing.T) {
		t.Parallel()
		dsn := throwawayPostgres(t, admin)
		s, err := OpenPostgres(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(t.Context(), `INSERT INTO schema_version (version, applied_at) VALUES (999, 0)`); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, err = OpenPostgres(t.Context(), dsn)
		if err == nil {
			s.Close()
			t.Fatal("OpenPostgres succeeded")
		}
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("OpenPostgres: %v; want ErrSchemaTooNew", err)
		}
	})
	t.Run("no server", func(t *testing.T) {
		t.Parallel()
		// Port 1 on the loopback refuses at once.
		_, err := OpenPostgres(t.Context(), "postgres://postgres:hunter2@127.0.0.1:1/foyer?sslmode=disable&connect_timeout=2")
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("OpenPostgres: %v; want ErrUnavailable", err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q shows the password", err)
		}
	})
	t.Run("closed store", func(t *testing.T) {
		t.Parallel()
		s, err := OpenPostgres(t.Context(), throwawayPostgres(t, admin))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := s.RedeemAuthCode(t.Context(), "x"); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("RedeemAuthCode after Close: %v; want ErrUnavailable", err)
		}
	})
	t.Run("concurrent start-ups migrate once", func(t *testing.T) {
		t.Parallel()
		dsn := throwawayPostgres(t, admin)
		errs := make(chan error, 4)
		overlap(4, func(int) {
			s, err := OpenPostgres(t.Context(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		})
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent OpenPostgres: %v", err)
			}
		}
	})
}
