package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/storagetest"
)

// TestSQLite runs the conformance suite against SQLite, one fresh database
// file per subtest.
func TestSQLite(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, clock *storagetest.Clock) storage.Store {
		s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "foyer.db"), WithClock(clock.Now))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s.Store()
	})
}
