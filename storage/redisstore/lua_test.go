package redisstore_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/redisstore"
	"github.com/redis/go-redis/v9"
)

// TestRewrittenRecordsOmitEmptySlices guards what the scripts rely on when
// they decode and re-encode a record with cjson: Redis's cjson writes an
// empty table as {}, which encoding/json cannot read back into a slice. So
// every slice in a record a script rewrites (a grant, a session, a device
// request, and what they hold) must be omitempty, which keeps [] out of
// the JSON. A new field without it would break rotation at run time.
func TestRewrittenRecordsOmitEmptySlices(t *testing.T) {
	t.Parallel()
	seen := map[reflect.Type]bool{}
	var check func(path string, typ reflect.Type)
	check = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ == reflect.TypeFor[time.Time]() {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("json")
			if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.Uint8 &&
				!strings.Contains(tag, ",omitempty") {
				t.Errorf("%s.%s (json %q) is a slice without omitempty", path, f.Name, tag)
			}
			check(path+"."+f.Name, f.Type)
			if f.Type.Kind() == reflect.Slice {
				check(path+"."+f.Name+"[]", f.Type.Elem())
			}
		}
	}
	for _, v := range []any{storage.Grant{}, storage.Session{}, storage.DeviceRequest{}} {
		check(reflect.TypeOf(v).Name(), reflect.TypeOf(v))
	}
}

// TestGrantWithoutAbsoluteExpiry rotates a grant that has only an idle
// expiry: its user and session index sets, made to live for its first idle
// term, must be extended, since logout revokes through them.
func TestGrantWithoutAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	now := time.Now().Truncate(time.Millisecond)
	cfg := configFor(t, url)
	s := open(t, cfg, redisstore.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	g := storage.Grant{ID: "g1", ClientID: "c1", TokenHash: "rt-1", Login: storage.Login{UserID: "u1", SessionID: "s1"},
		ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	// Real time does not pass in the test: shorten the index sets' TTLs
	// as an hour of it would have.
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	indexes := []string{cfg.KeyPrefix + "{user:u1}:grants", cfg.KeyPrefix + "{session:s1}:grants"}
	for _, k := range indexes {
		if ok, err := rdb.PExpire(ctx, k, time.Second).Result(); err != nil || !ok {
			t.Fatalf("PEXPIRE %s: %v, %v", k, ok, err)
		}
	}
	now = now.Add(50 * time.Minute)
	if _, _, err := s.RotateRefreshToken(ctx, storage.Rotation{TokenHash: "rt-1", ClientID: "c1", NewTokenHash: "rt-2", IdleTTL: time.Hour}); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	for _, k := range indexes {
		if d, err := rdb.PTTL(ctx, k).Result(); err != nil || d < time.Hour {
			t.Errorf("PTTL %s after the rotation = %v, %v; want the new idle term", k, d, err)
		}
	}
	if n, err := s.RevokeSessionGrants(ctx, "s1"); err != nil || n != 1 {
		t.Errorf("RevokeSessionGrants = %d, %v; want 1", n, err)
	}
}
