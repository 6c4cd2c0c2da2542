package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/foyerid/foyer/internal/testenv"
)

// foyerBin is the foyer binary built once for the tests that run it as a
// real process.
var foyerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "foyer-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	foyerBin = filepath.Join(dir, "foyer")
	build := exec.Command("go", "build", "-o", foyerBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build foyer:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	return testenv.FreeAddr(t, "127.0.0.1")
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a running foyer.
type process struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	base   string
}

func (p *process) logs() string { return p.stdout.String() + p.stderr.String() }

// runningProcesses are the processes started by the tests, newest first.
var runningProcesses []*process

// startFoyer runs foyer with args and waits until base/readyz answers 200.
func startFoyer(t *testing.T, base string, args ...string) *process {
	t.Helper()
	p := &process{stdout: &syncBuffer{}, stderr: &syncBuffer{}, base: base}
	p.cmd = exec.Command(foyerBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	runningProcesses = append([]*process{p}, runningProcesses...)
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		// Only this process's answer counts: it must have logged that it
		// listens (another server could hold the port if this one failed
		// to bind it), and a process that stopped fails at once.
		if strings.Contains(p.stderr.String(), "foyer stopped") {
			break
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(p.stderr.String(), "listening") {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	t.Fatalf("foyer did not become ready:\n%s", p.logs())
	return nil
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("foyer exited with %v:\n%s", err, p.logs())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("foyer did not stop on SIGTERM")
	}
}

func runFoyer(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(foyerBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestVersionAndUsage(t *testing.T) {
	out, _, code := runFoyer(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "foyer ") {
		t.Fatalf("version: %d %q", code, out)
	}
	_, errOut, code := runFoyer(t, "", "frobnicate")
	if code != exitConfig || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
}

func TestConfigCheckFiveMistakes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "foyer.yaml")
	// Five mistakes: a misspelt key, a bad URL, a bad duration, an unknown
	// connector type, and a client whose redirect URI has a fragment.
	cfg := `issuer: http://id.example.com
htp:
  addr: 127.0.0.1:5556
tokens:
  idToken: 600
keys:
  kek: {file: /tmp/kek}
clients:
  - id: app
    secret: s3cret
    redirectURIs: ["https://app.example.com/cb#frag"]
connectors:
  - id: corp
    type: kerberos
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runFoyer(t, "", "config", "check", file)
	if code != exitConfig {
		t.Fatalf("exit %d, want %d; output:\n%s", code, exitConfig, errOut)
	}
	lines := regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(file)+`:\d+: `).FindAllString(errOut, -1)
	if len(lines) != 5 {
		t.Fatalf("want 5 problems with file:line, got %d:\n%s", len(lines), errOut)
	}
}

func TestConfigCheckExamples(t *testing.T) {
	files, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs: %v", err)
	}
	cmd := exec.Command(foyerBin, append([]string{"config", "check"}, files...)...)
	cmd.Env = append(os.Environ(), exampleEnv(t, files)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("config check of the examples: %v\n%s", err, out)
	}
}

// exampleEnv gives every ${VAR} the example configs expand a plausible value.
func exampleEnv(t *testing.T, files []string) []string {
	t.Helper()
	ref := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	var env []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			v := "value-for-tests"
			if n := strings.ToUpper(m[1]); strings.Contains(n, "PG") || strings.Contains(n, "POSTGRES") {
				v = "postgres://foyer@127.0.0.1:5432/foyer"
			}
			env = append(env, m[1]+"="+v)
		}
	}
	return env
}

func TestServeRefusesWithoutKEK(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "foyer.yaml")
	cfg := fmt.Sprintf(`issuer: http://127.0.0.1:5556
storage: {type: sqlite, sqlite: {file: %s/foyer.db}}
keys: {kek: {file: %s/missing.kek}}
`, dir, dir)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runFoyer(t, "", "serve", "--config", file)
	if code != exitFail || !strings.Contains(errOut, "key-encryption key") {
		t.Fatalf("exit %d; output:\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "foyer.db")); err == nil {
		t.Fatal("a database was created although nothing should have started")
	}
}

func TestHashPassword(t *testing.T) {
	out, _, code := runFoyer(t, "hunter2\n", "hash-password")
	if code != 0 || !strings.HasPrefix(out, "$argon2id$") {
		t.Fatalf("hash-password: %d %q", code, out)
	}
}

// TestServeDevRestart: dev mode starts in an empty folder, serves discovery
// and JWKS, and after a restart the keys, clients and users are the same.
// A login in between leaves no bearer secret in the raw database files.
func TestServeDevRestart(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	p := startFoyer(t, base, "serve", "--dev", "--dir", dir, "--addr", addr)
	disc := getJSON(t, base+"/.well-known/openid-configuration")
	if disc["issuer"] != base {
		t.Fatalf("issuer %v, want %s", disc["issuer"], base)
	}
	jwks1 := getJSON(t, base+"/jwks")
	secret := regexp.MustCompile(`client_secret=(\S+)`).FindStringSubmatch(p.stdout.String())
	if secret == nil {
		t.Fatalf("dev banner has no client secret:\n%s", p.stdout.String())
	}
	flow := devLogin(t, base)
	p.stop(t)
	if !strings.Contains(p.stderr.String(), "stopped") {
		t.Errorf("no clean shutdown in the log:\n%s", p.stderr.String())
	}

	// Nothing a browser or client holds may appear in the store's files.
	var raw []byte
	for _, f := range []string{"foyer-dev.db", "foyer-dev.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		raw = append(raw, b...)
	}
	for name, v := range flow.secrets {
		if v != "" && bytes.Contains(raw, []byte(v)) {
			t.Errorf("the database files contain the %s in clear", name)
		}
	}

	p2 := startFoyer(t, base, "serve", "--dev", "--dir", dir, "--addr", addr)
	defer p2.stop(t)
	jwks2 := getJSON(t, base+"/jwks")
	if fmt.Sprint(jwks1["keys"]) != fmt.Sprint(jwks2["keys"]) {
		t.Errorf("keys changed across a restart:\n%v\n%v", jwks1, jwks2)
	}
	if !strings.Contains(p2.stdout.String(), "client_secret="+secret[1]) {
		t.Errorf("the demo client's secret changed across a restart")
	}
	if again := devLogin(t, base); again.sub != flow.sub {
		t.Errorf("the demo user's sub changed across a restart: %s then %s", flow.sub, again.sub)
	}
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return m
}
