package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKEK(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0x3e}, 11)[:32] // bytes that differ between base64 alphabets
	zero := make([]byte, 32)
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{name: "std padded", input: base64.StdEncoding.EncodeToString(raw), ok: true},
		{name: "std raw", input: base64.RawStdEncoding.EncodeToString(raw), ok: true},
		{name: "url padded", input: base64.URLEncoding.EncodeToString(raw), ok: true},
		{name: "url raw", input: base64.RawURLEncoding.EncodeToString(raw), ok: true},
		{name: "hex lower", input: hex.EncodeToString(raw), ok: true},
		{name: "hex upper", input: strings.ToUpper(hex.EncodeToString(raw)), ok: true},
		{name: "surrounding whitespace", input: " \n\t" + base64.StdEncoding.EncodeToString(raw) + "\r\n", ok: true},
		{name: "hex with newline", input: hex.EncodeToString(raw) + "\n", ok: true},
		{name: "empty", input: ""},
		{name: "only whitespace", input: " \n "},
		{name: "31 bytes base64", input: base64.StdEncoding.EncodeToString(raw[:31])},
		{name: "33 bytes base64", input: base64.StdEncoding.EncodeToString(append(raw, 1))},
		{name: "16 bytes base64", input: base64.StdEncoding.EncodeToString(raw[:16])},
		{name: "62 hex", input: hex.EncodeToString(raw[:31])},
		{name: "66 hex", input: hex.EncodeToString(append(raw, 1))},
		{name: "64 chars not hex", input: strings.Repeat("zz", 32)},
		{name: "raw 32 bytes", input: string(raw)},
		{name: "passphrase", input: "correct horse battery staple"},
		{name: "mixed alphabets", input: strings.Replace(base64.StdEncoding.EncodeToString(raw), "+", "-", 1)},
		{name: "all zeros", input: base64.StdEncoding.EncodeToString(zero)},
		{name: "all zeros hex", input: hex.EncodeToString(zero)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParseKEK([]byte(tt.input))
			if !tt.ok {
				if err == nil {
					t.Fatal("ParseKEK accepted bad input")
				}
				if trimmed := strings.TrimSpace(tt.input); len(trimmed) > 3 && strings.Contains(err.Error(), trimmed) {
					t.Fatalf("error echoes the input: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKEK: %v", err)
			}
			if !bytes.Equal(k.k[:], raw) || !k.set {
				t.Fatal("ParseKEK decoded the wrong key")
			}
		})
	}
}

func TestKEKRedacts(t *testing.T) {
	t.Parallel()
	k := GenerateKEK()
	secretB64 := k.Encode()
	secretHex := hex.EncodeToString(k.k[:])
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "kek", k)
	js, err := json.Marshal(struct{ K KEK }{k})
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v", struct{ K KEK }{k}), fmt.Sprintf("%+v", &k),
		k.String(), logged.String(), string(js),
	}
	for _, out := range outputs {
		low := strings.ToLower(out)
		if strings.Contains(out, secretB64) || strings.Contains(low, secretHex) || strings.Contains(out, fmt.Sprint(k.k[0], " ", k.k[1])) {
			t.Fatalf("KEK leaked: %s", out)
		}
		if !strings.Contains(out, redacted) {
			t.Fatalf("no redaction marker in %q", out)
		}
	}
	back, err := ParseKEK([]byte(secretB64))
	if err != nil || back != k {
		t.Fatalf("Encode does not round-trip: %v", err)
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	kek, other := GenerateKEK(), GenerateKEK()
	pt := []byte("private key bytes")
	sealed, err := Seal(kek, pt, []byte("kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	if sealed[0] != sealVersion || bytes.Contains(sealed, pt) {
		t.Fatal("sealed blob has no version byte or holds the plaintext")
	}
	again, _ := Seal(kek, pt, []byte("kid-1"))
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals are equal: the nonce is not random")
	}
	got, err := Open(kek, sealed, []byte("kid-1"))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		kek    KEK
		sealed []byte
		aad    string
	}{
		{name: "other kek", kek: other, sealed: sealed, aad: "kid-1"},
		{name: "other aad", kek: kek, sealed: sealed, aad: "kid-2"},
		{name: "no aad", kek: kek, sealed: sealed},
		{name: "flipped version", kek: kek, sealed: flip(0), aad: "kid-1"},
		{name: "flipped nonce", kek: kek, sealed: flip(1), aad: "kid-1"},
		{name: "flipped ciphertext", kek: kek, sealed: flip(14), aad: "kid-1"},
		{name: "flipped tag", kek: kek, sealed: flip(len(sealed) - 1), aad: "kid-1"},
		{name: "truncated", kek: kek, sealed: sealed[:20], aad: "kid-1"},
		{name: "empty", kek: kek, aad: "kid-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Open(tt.kek, tt.sealed, []byte(tt.aad)); !errors.Is(err, ErrUnseal) {
				t.Fatalf("Open = %v, want ErrUnseal", err)
			}
		})
	}
	if _, err := Seal(KEK{}, pt, nil); err == nil {
		t.Fatal("Seal with an unset KEK succeeded")
	}
	if _, err := Open(KEK{}, sealed, nil); err == nil {
		t.Fatal("Open with an unset KEK succeeded")
	}
}

func TestLoadKEK(t *testing.T) {
	k := GenerateKEK()
	dir := t.TempDir()
	good := filepath.Join(dir, "kek")
	if err := os.WriteFile(good, []byte(k.Encode()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "kek-0644")
	if err := os.WriteFile(open, []byte(hex.EncodeToString(k.k[:])), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("hunter2hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, bytes.Repeat([]byte(" "), maxKEKFileSize+10), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FOYER_TEST_KEK", k.Encode())
	t.Setenv("FOYER_TEST_KEK_BAD", "hunter2hunter2")
	t.Setenv("FOYER_TEST_KEK_EMPTY", "")
	tests := []struct {
		name      string
		file, env string
		ok        bool
	}{
		{name: "file", file: good, ok: true},
		{name: "group readable file still loads", file: open, ok: true},
		{name: "env", env: "FOYER_TEST_KEK", ok: true},
		{name: "both", file: good, env: "FOYER_TEST_KEK"},
		{name: "neither"},
		{name: "missing file", file: filepath.Join(dir, "nope")},
		{name: "bad file", file: bad},
		{name: "huge file", file: huge},
		{name: "bad env", env: "FOYER_TEST_KEK_BAD"},
		{name: "empty env", env: "FOYER_TEST_KEK_EMPTY"},
		{name: "unset env", env: "FOYER_TEST_KEK_UNSET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadKEK(tt.file, tt.env)
			if !tt.ok {
				if err == nil {
					t.Fatal("LoadKEK succeeded")
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error echoes the content: %v", err)
				}
				return
			}
			if err != nil || got != k {
				t.Fatalf("LoadKEK = %v", err)
			}
		})
	}
	if err := CheckKEKFile(good); err != nil {
		t.Fatalf("CheckKEKFile(0600) = %v", err)
	}
	if err := CheckKEKFile(open); err == nil {
		t.Fatal("CheckKEKFile(0644) = nil")
	}
	if err := CheckKEKFile(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("CheckKEKFile(missing) = nil")
	}
}
