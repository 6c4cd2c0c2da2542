package memory_test

import (
	"testing"

	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
	"github.com/foyerid/foyer/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, clock *storagetest.Clock) storage.Store {
		s := memory.New(memory.WithClock(clock.Now))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return storage.Store{Directory: s, State: s}
	})
}
