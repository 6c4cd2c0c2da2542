package storagetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func TestDiff(t *testing.T) {
	t0 := Start.Add(123 * ms)
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name      string
		want, got any
		diffs     int
	}{
		{name: "equal", want: storage.User{ID: "a", Groups: []string{"x"}}, got: storage.User{ID: "a", Groups: []string{"x"}}},
		{name: "nil and empty slices are equal", want: storage.User{Groups: nil}, got: storage.User{Groups: []string{}}},
		{name: "times equal across zones", want: storage.User{CreatedAt: t0}, got: storage.User{CreatedAt: t0.In(paris)}},
		{name: "different time", want: storage.User{CreatedAt: t0}, got: storage.User{CreatedAt: t0.Add(ms)}, diffs: 1},
		{name: "different field", want: storage.User{ID: "a", Name: "x"}, got: storage.User{ID: "b", Name: "y"}, diffs: 2},
		{name: "different slice element", want: []string{"a", "b"}, got: []string{"a", "c"}, diffs: 1},
		{name: "different length", want: []string{"a"}, got: []string{"a", "b"}, diffs: 1},
		{name: "nil and set pointer", want: storage.AuthRequest{}, got: storage.AuthRequest{Login: &storage.Login{}}, diffs: 1},
		{
			name:  "nested pointer field",
			want:  storage.AuthRequest{Login: &storage.Login{AMR: []string{"pwd"}}},
			got:   storage.AuthRequest{Login: &storage.Login{AMR: []string{"otp"}}},
			diffs: 1,
		},
		{name: "bytes", want: []byte("ab"), got: []byte("ac"), diffs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var diffs []string
			diff(&diffs, "v", reflect.ValueOf(tt.want), reflect.ValueOf(tt.got))
			if len(diffs) != tt.diffs {
				t.Errorf("got %d differences %q, want %d", len(diffs), diffs, tt.diffs)
			}
		})
	}
}

func TestClock(t *testing.T) {
	var zero Clock
	if !zero.Now().Equal(Start) {
		t.Errorf("zero Clock reads %v, want %v", zero.Now(), Start)
	}
	c := NewClock()
	c.Advance(1500 * ms)
	if want := Start.Add(1500 * ms); !c.Now().Equal(want) {
		t.Errorf("after Advance: %v, want %v", c.Now(), want)
	}
	if Start.Truncate(ms) != Start {
		t.Errorf("Start %v is not a whole millisecond", Start)
	}
}
