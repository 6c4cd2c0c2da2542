package identity_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/foyerid/foyer/identity"
)

// cheap keeps argon2id fast under the race detector.
var cheap = identity.Params{Memory: 64, Time: 1, Threads: 1}

// bcryptHash hashes password at bcrypt.MinCost and gives the hash the
// version prefix (2a, 2b or 2y): the algorithm is the same.
func bcryptHash(t testing.TB, password, version string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return "$" + version + strings.TrimPrefix(string(h), "$2a")
}

// argonHash builds a PHC argon2id string with the given parameter field,
// a 16-byte salt and a 32-byte sum; it is well formed but matches nothing.
func argonHash(params string) string {
	b64 := base64.RawStdEncoding
	return "$argon2id$v=19$" + params + "$" + b64.EncodeToString([]byte("0123456789abcdef")) +
		"$" + b64.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	const pw = "correct horse battery staple"
	argon, err := identity.HashPasswordWith(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	unicode, err := identity.HashPasswordWith("pässwörd ✓", cheap)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("p", 1024)
	argonLong, err := identity.HashPasswordWith(long, cheap)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		hash     string
		password string
		want     bool
	}{
		{name: "argon2id right", hash: argon, password: pw, want: true},
		{name: "argon2id wrong", hash: argon, password: pw + "!", want: false},
		{name: "argon2id empty password", hash: argon, password: "", want: false},
		{name: "argon2id case matters", hash: argon, password: strings.ToUpper(pw), want: false},
		{name: "argon2id unicode", hash: unicode, password: "pässwörd ✓", want: true},
		{name: "argon2id 1024 bytes", hash: argonLong, password: long, want: true},
		{name: "bcrypt 2a right", hash: bcryptHash(t, pw, "2a"), password: pw, want: true},
		{name: "bcrypt 2b right", hash: bcryptHash(t, pw, "2b"), password: pw, want: true},
		{name: "bcrypt 2y right", hash: bcryptHash(t, pw, "2y"), password: pw, want: true},
		{name: "bcrypt 2a wrong", hash: bcryptHash(t, pw, "2a"), password: "wrong", want: false},
		{name: "bcrypt 2b wrong", hash: bcryptHash(t, pw, "2b"), password: "wrong", want: false},
		{name: "bcrypt 2y wrong", hash: bcryptHash(t, pw, "2y"), password: "wrong", want: false},
		{name: "bcrypt empty password", hash: bcryptHash(t, pw, "2b"), password: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := identity.CheckPassword(tt.hash, tt.password)
			if err != nil {
				t.Fatalf("CheckPassword: %v", err)
			}
			if got != tt.want {
				t.Errorf("CheckPassword = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHashPasswordFormat(t *testing.T) {
	t.Parallel()
	a, err := identity.HashPasswordWith("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	b, err := identity.HashPasswordWith("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(a, want) {
		t.Errorf("hash %q does not start with %q", a, want)
	}
	if !identity.ValidHash(a) {
		t.Errorf("ValidHash(%q) = false", a)
	}
	if _, err := identity.HashPasswordWith(strings.Repeat("x", 1025), cheap); err == nil {
		t.Error("HashPasswordWith accepted a password longer than 1024 bytes")
	}
}

func TestHashPasswordDefaultParams(t *testing.T) {
	t.Parallel()
	h, err := identity.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	p := identity.DefaultParams
	if want := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", p.Memory, p.Time, p.Threads); !strings.HasPrefix(h, want) {
		t.Errorf("hash %q does not start with %q", h, want)
	}
	if ok, err := identity.CheckPassword(h, "pw"); err != nil || !ok {
		t.Errorf("CheckPassword = %v, %v; want true", ok, err)
	}
}

// TestCheckPasswordTooLong: a password over 1024 bytes is a wrong password,
// not an error, whatever the hash.
func TestCheckPasswordTooLong(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 1025)
	// Even a hash of the first 1024 bytes must not match.
	prefix, err := identity.HashPasswordWith(long[:1024], cheap)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hash string
	}{
		{name: "argon2id", hash: prefix},
		{name: "bcrypt", hash: bcryptHash(t, "a", "2b")},
		{name: "unreadable hash", hash: "garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := identity.CheckPassword(tt.hash, long)
			if ok || err != nil {
				t.Errorf("CheckPassword(1025 bytes) = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

// malformedHashes are hashes CheckPassword must refuse with ErrBadHash.
var malformedHashes = []struct {
	name string
	hash string
}{
	{name: "empty", hash: ""},
	{name: "plain text", hash: "hunter2"},
	{name: "md5crypt", hash: "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"},
	{name: "argon2i", hash: strings.Replace(argonHash("m=64,t=1,p=1"), "argon2id", "argon2i", 1)},
	{name: "argon2id only prefix", hash: "$argon2id$"},
	{name: "argon2id missing hash", hash: "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg"},
	{name: "argon2id extra part", hash: argonHash("m=64,t=1,p=1") + "$x"},
	{name: "argon2id version 16", hash: strings.Replace(argonHash("m=64,t=1,p=1"), "v=19", "v=16", 1)},
	{name: "argon2id no version", hash: strings.Replace(argonHash("m=64,t=1,p=1"), "v=19", "19", 1)},
	{name: "argon2id parameters not numbers", hash: argonHash("m=x,t=1,p=1")},
	{name: "argon2id parameters missing", hash: argonHash("m=64,t=1")},
	{name: "argon2id negative memory", hash: argonHash("m=-64,t=1,p=1")},
	{name: "argon2id memory too low", hash: argonHash("m=4,t=1,p=1")},
	{name: "argon2id no passes", hash: argonHash("m=64,t=0,p=1")},
	{name: "argon2id no lanes", hash: argonHash("m=64,t=1,p=0")},
	{name: "argon2id lanes overflow", hash: argonHash("m=64,t=1,p=256")},
	{name: "argon2id memory overflow", hash: argonHash("m=4294967296,t=1,p=1")},
	{name: "argon2id salt not base64", hash: "$argon2id$v=19$m=64,t=1,p=1$!!!!$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"},
	{name: "argon2id salt too short", hash: "$argon2id$v=19$m=64,t=1,p=1$YWJj$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"},
	{name: "argon2id sum too short", hash: "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$YWJj"},
	{name: "argon2id sum too long", hash: "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" + base64.RawStdEncoding.EncodeToString(make([]byte, 65))},
	{name: "bcrypt truncated", hash: "$2a$10$abc"},
	{name: "bcrypt cost too low", hash: "$2a$03$" + strings.Repeat("a", 53)},
	{name: "bcrypt cost not a number", hash: "$2b$xx$" + strings.Repeat("a", 53)},
	{name: "bcrypt unknown version", hash: "$2x$04$" + strings.Repeat("a", 53)},
	{name: "bcrypt major version 3", hash: "$3a$04$" + strings.Repeat("a", 53)},
}

// absurdHashes are well-formed hashes planted with parameters that would
// exhaust the machine: they must be refused before any work is done.
var absurdHashes = []struct {
	name string
	hash string
}{
	{name: "argon2id 4 GB", hash: argonHash("m=4000000,t=3,p=4")},
	{name: "argon2id 1000 passes", hash: argonHash("m=65536,t=1000,p=4")},
	{name: "argon2id both", hash: argonHash("m=4000000,t=1000,p=4")},
	{name: "argon2id max uint32 passes", hash: argonHash("m=64,t=4294967295,p=1")},
	// 2^31 rounds of bcrypt take about a day.
	{name: "bcrypt cost 31", hash: "$2a$31$" + strings.Repeat("a", 53)},
	{name: "bcrypt cost 24", hash: "$2b$24$" + strings.Repeat("a", 53)},
}

func TestCheckPasswordBadHash(t *testing.T) {
	t.Parallel()
	for _, tt := range malformedHashes {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := identity.CheckPassword(tt.hash, "password")
			if ok || !errors.Is(err, identity.ErrBadHash) {
				t.Errorf("CheckPassword(%q) = %v, %v; want false, ErrBadHash", tt.hash, ok, err)
			}
			if identity.ValidHash(tt.hash) {
				t.Errorf("ValidHash(%q) = true", tt.hash)
			}
		})
	}
}

// TestCheckPasswordAbsurdParameters is not parallel: it measures what the
// check allocates, which argon2 would show at once (its memory parameter is
// in KiB), and bounds its time loosely so that a bcrypt hash of cost 31
// fails the test instead of running for a day.
func TestCheckPasswordAbsurdParameters(t *testing.T) {
	for _, tt := range absurdHashes {
		t.Run(tt.name, func(t *testing.T) {
			type result struct {
				ok    bool
				err   error
				alloc uint64
			}
			done := make(chan result, 1)
			go func() {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				ok, err := identity.CheckPassword(tt.hash, "password")
				runtime.ReadMemStats(&after)
				done <- result{ok, err, after.TotalAlloc - before.TotalAlloc}
			}()
			timeout := time.NewTimer(20 * time.Second)
			defer timeout.Stop()
			select {
			case r := <-done:
				if r.ok || !errors.Is(r.err, identity.ErrBadHash) {
					t.Errorf("CheckPassword = %v, %v; want false, ErrBadHash", r.ok, r.err)
				}
				if r.alloc > 1<<20 {
					t.Errorf("CheckPassword allocated %d bytes: the hash was computed", r.alloc)
				}
			case <-timeout.C:
				t.Fatalf("CheckPassword(%q) still running after 20s: the planted parameters are computed", tt.hash)
			}
			if identity.ValidHash(tt.hash) {
				t.Errorf("ValidHash(%q) = true", tt.hash)
			}
		})
	}
}

func TestValidHash(t *testing.T) {
	t.Parallel()
	argon, err := identity.HashPasswordWith("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hash string
		want bool
	}{
		{name: "argon2id", hash: argon, want: true},
		{name: "argon2id default params", hash: argonHash("m=65536,t=3,p=4"), want: true},
		{name: "bcrypt 2a", hash: bcryptHash(t, "pw", "2a"), want: true},
		{name: "bcrypt 2b", hash: bcryptHash(t, "pw", "2b"), want: true},
		{name: "bcrypt 2y", hash: bcryptHash(t, "pw", "2y"), want: true},
		{name: "bcrypt cost 12", hash: "$2b$12$" + strings.Repeat("a", 53), want: true},
		{name: "empty", hash: "", want: false},
		{name: "argon2id over memory limit", hash: argonHash("m=1048577,t=3,p=4"), want: false},
		{name: "argon2id over pass limit", hash: argonHash("m=65536,t=21,p=4"), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := identity.ValidHash(tt.hash); got != tt.want {
				t.Errorf("ValidHash(%q) = %v, want %v", tt.hash, got, tt.want)
			}
		})
	}
}

// TestDummyCheckCost: DummyCheck must cost about what a real check of a
// DefaultParams hash costs, so an unknown user does not show in the
// timing. The work is measured in CPU time (the machine may be busy with
// other processes), the runs interleaved and the cheapest of three of each
// compared, within 3×: loose, yet a dummy that skipped the work or used
// other parameters would fail.
func TestDummyCheckCost(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id with DefaultParams is slow")
	}
	h, err := identity.HashPassword("the real password")
	if err != nil {
		t.Fatal(err)
	}
	identity.DummyCheck("warm-up") // the dummy hash is made on first use
	dummy := cost(t, func() { identity.DummyCheck("a guess") })
	check := cost(t, func() { _, _ = identity.CheckPassword(h, "a guess") })
	for range 2 {
		dummy = min(dummy, cost(t, func() { identity.DummyCheck("a guess") }))
		check = min(check, cost(t, func() { _, _ = identity.CheckPassword(h, "a guess") }))
	}
	t.Logf("CPU time: DummyCheck %v, CheckPassword %v", dummy, check)
	if dummy*3 < check || check*3 < dummy {
		t.Errorf("DummyCheck costs %v of CPU, a real check %v: more than 3× apart", dummy, check)
	}
}

// cost is the CPU time f takes.
func cost(t *testing.T, f func()) time.Duration {
	t.Helper()
	before, ok := cpuTime()
	if !ok {
		t.Skip("no CPU time on this system")
	}
	f()
	after, _ := cpuTime()
	return after - before
}

func BenchmarkCheckPassword(b *testing.B) {
	h, err := identity.HashPassword("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := identity.CheckPassword(h, "a wrong guess"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDummyCheck(b *testing.B) {
	identity.DummyCheck("warm-up")
	b.ReportAllocs()
	for b.Loop() {
		identity.DummyCheck("a guess")
	}
}
