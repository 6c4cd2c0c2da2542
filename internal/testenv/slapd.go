package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// slapdBaseLDIF is loaded at the first start: the suffix and two
// organisational units that tests fill.
const slapdBaseLDIF = `dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups
`

// How long slapd may take to start or stop, and an LDAP operation of the
// helper to run. Generous: the machine may be busy.
const (
	slapdStartTimeout = 30 * time.Second
	slapdStopTimeout  = 15 * time.Second
	slapdOpTimeout    = 30 * time.Second
)

// SlapdServer is a running, throwaway OpenLDAP server. The directory
// holds dc=example,dc=org, and ou=people and ou=groups below it; the
// administrator, cn=admin,dc=example,dc=org (the rootdn), may do anything. Anonymous clients may only bind; bound
// users may read everything but passwords.
type SlapdServer struct {
	// URL is the plain listener, ldap://127.0.0.1:port. It offers
	// StartTLS with the test certificate.
	URL string
	// LDAPSURL is the TLS listener, ldaps://127.0.0.1:port.
	LDAPSURL string
	// Addr and TLSAddr are the host:port of URL and LDAPSURL.
	Addr, TLSAddr string
	// BaseDN is the naming context, dc=example,dc=org.
	BaseDN string
	// AdminDN and AdminPassword are the rootdn's credentials.
	AdminDN, AdminPassword string
	// CAPEM is the test CA that issued the server certificate, valid for
	// 127.0.0.1, ::1 and localhost. CAFile holds the same PEM.
	CAPEM  []byte
	CAFile string
	// MemberOf reports whether the memberof overlay is loaded: it keeps
	// memberOf on members of groupOfNames groups.
	MemberOf bool

	slapd, ldapmodify string
	dir, conf         string
	log               tailBuffer

	mu   sync.Mutex
	proc *slapdProc
}

// slapdProc is one run of the slapd process.
type slapdProc struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	paused bool
}

// Slapd starts a throwaway slapd (Debian's /usr/sbin/slapd, or slapd on
// PATH) listening on two free loopback ports, with an mdb database in
// t.TempDir(), and returns once the administrator can bind. It needs
// ldapmodify (ldap-utils) for Add. t.Cleanup kills the server; when the
// test failed, slapd's log is written to the test log first. When slapd
// is missing, Slapd fails the test under CI=true and skips it otherwise.
func Slapd(t testing.TB) *SlapdServer {
	t.Helper()
	s := &SlapdServer{
		BaseDN:        "dc=example,dc=org",
		AdminDN:       "cn=admin,dc=example,dc=org",
		AdminPassword: "admin-secret",
		dir:           t.TempDir(),
	}
	var err error
	if s.slapd, err = findProgram("slapd", "/usr/sbin/slapd", "/usr/local/libexec/slapd", "/usr/libexec/slapd"); err != nil {
		slapdMissing(t, err)
	}
	if s.ldapmodify, err = findProgram("ldapmodify", "/usr/bin/ldapmodify"); err != nil {
		slapdMissing(t, err)
	}
	schema := firstDir("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
	if schema == "" {
		slapdMissing(t, errors.New("no OpenLDAP schema directory (core.schema)"))
	}
	if s.CAPEM, err = writeSlapdCerts(s.dir); err != nil {
		t.Fatalf("testenv: slapd certificates: %v", err)
	}
	s.CAFile = filepath.Join(s.dir, "ca.pem")
	err = errors.Join(os.MkdirAll(filepath.Join(s.dir, "db"), 0o700),
		os.WriteFile(filepath.Join(s.dir, "admin.pw"), []byte(s.AdminPassword), 0o600))
	if err != nil {
		t.Fatalf("testenv: slapd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("slapd log:\n%s", s.Log())
		}
		s.kill()
	})

	// A free port found now may be taken before slapd binds it: try again
	// with other ports when slapd exits early.
	for attempt := 1; ; attempt++ {
		plain, err1 := freePort()
		tls, err2 := freePort()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("testenv: slapd ports: %v", err)
		}
		s.Addr, s.TLSAddr = plain, tls
		s.URL, s.LDAPSURL = "ldap://"+plain, "ldaps://"+tls
		if err := s.writeConfig(schema); err != nil {
			t.Fatalf("testenv: slapd config: %v", err)
		}
		err := s.launch()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("testenv: slapd: %v\nslapd log:\n%s", err, s.Log())
		}
		t.Logf("testenv: slapd did not start (attempt %d), trying other ports: %v", attempt, err)
	}
	s.Add(t, slapdBaseLDIF)
	return s
}

func slapdMissing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: slapd is required under CI: %v", err)
	}
	t.Skipf("SKIPPING LDAP tests: no OpenLDAP server here (apt-get install slapd ldap-utils): %v", err)
}

// Add applies LDIF with ldapmodify -a as the administrator: records
// without a changetype are added, and records with one (modify, delete,
// modrdn) are applied, so Add also changes entries. It fails the test
// when any record is refused.
func (s *SlapdServer) Add(t testing.TB, ldif string) {
	t.Helper()
	pw := filepath.Join(s.dir, "admin.pw")
	ctx, cancel := context.WithTimeout(context.Background(), slapdOpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.ldapmodify, "-x", "-a", "-H", s.URL, "-D", s.AdminDN, "-y", pw)
	// LDAPNOINIT: ignore ldap.conf and ~/.ldaprc, whatever they say.
	cmd.Env = append(os.Environ(), "LDAPNOINIT=1")
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: slapd add: %v\n%s", err, out)
	}
}

// Delete deletes the entry dn as the administrator. It fails the test
// when the entry cannot be deleted (it does not exist, or has children).
func (s *SlapdServer) Delete(t testing.TB, dn string) {
	t.Helper()
	conn, err := s.adminConn()
	if err != nil {
		t.Fatalf("testenv: slapd delete %q: %v", dn, err)
	}
	defer conn.Close()
	if err := conn.Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("testenv: slapd delete %q: %v", dn, err)
	}
}

// Stop stops slapd (SIGTERM, then SIGKILL if it lingers) and waits for it
// to exit: the ports then refuse connections, as a directory that is down.
// The data is kept for Start.
func (s *SlapdServer) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	paused := p != nil && p.paused
	s.mu.Unlock()
	if p == nil {
		t.Fatal("testenv: slapd stop: not running")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if paused {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
	timer := time.NewTimer(slapdStopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		t.Logf("testenv: slapd did not stop in %v; killing it", slapdStopTimeout)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Start starts a stopped slapd again, on the same ports with the same
// data, and returns once the administrator can bind.
func (s *SlapdServer) Start(t testing.TB) {
	t.Helper()
	if err := s.launch(); err != nil {
		t.Fatalf("testenv: slapd start: %v\nslapd log:\n%s", err, s.Log())
	}
}

// Pause freezes slapd (SIGSTOP): connections are still accepted by the
// kernel but nothing is answered, as a directory that hangs. Resume undoes
// it; Stop and the cleanup work on a paused server.
func (s *SlapdServer) Pause(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGSTOP, true)
}

// Resume lets a paused slapd run again.
func (s *SlapdServer) Resume(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGCONT, false)
}

func (s *SlapdServer) signal(t testing.TB, sig syscall.Signal, paused bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		t.Fatalf("testenv: slapd %v: not running", sig)
	}
	if err := s.proc.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("testenv: slapd %v: %v", sig, err)
	}
	s.proc.paused = paused
	if paused {
		// A stop signal takes effect a moment after it is sent; wait
		// until every thread has stopped, so that nothing sent after
		// Pause is answered.
		if err := waitStopped(s.proc.cmd.Process.Pid, s.proc.done); err != nil {
			t.Fatalf("testenv: slapd pause: %v", err)
		}
	}
}

// waitStopped waits until /proc says every thread of pid is stopped. On a
// system without /proc it returns at once.
func waitStopped(pid int, exited <-chan struct{}) error {
	tasks := fmt.Sprintf("/proc/%d/task", pid)
	return retry(exited, slapdStopTimeout, func() error {
		entries, err := os.ReadDir(tasks)
		if err != nil {
			return nil
		}
		for _, e := range entries {
			stat, err := os.ReadFile(filepath.Join(tasks, e.Name(), "stat"))
			// The state follows the parenthesised command name.
			i := bytes.LastIndexByte(stat, ')')
			if err == nil && i >= 0 && i+2 < len(stat) && stat[i+2] != 'T' {
				return errors.New("slapd is still running")
			}
		}
		return nil
	})
}

// Log returns what slapd has written to stderr so far (its last MiB).
func (s *SlapdServer) Log() string { return s.log.String() }

// launch starts slapd and waits until the administrator can bind. On
// failure the process is gone.
func (s *SlapdServer) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	cmd := exec.Command(s.slapd, "-f", s.conf, "-h", s.URL+"/ "+s.LDAPSURL+"/", "-d", "stats")
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.slapd, err)
	}
	p := &slapdProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		s.log.WriteString(fmt.Sprintf("testenv: slapd exited: %v\n", err))
		close(p.done)
	}()
	err := retry(p.done, slapdStartTimeout, func() error {
		conn, err := s.adminConn()
		if err == nil {
			_ = conn.Close()
		}
		return err
	})
	if err != nil {
		_ = cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("slapd does not serve: %w", err)
	}
	s.proc = p
	return nil
}

// retry calls try, backing off from 1ms to 100ms between calls, until it
// succeeds, exited is closed or timeout passes; it returns try's last
// error in the two latter cases. The helpers wait for slapd with it:
// there is no event to wait on.
func retry(exited <-chan struct{}, timeout time.Duration, try func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := try()
		if err == nil {
			return nil
		}
		next := time.NewTimer(wait)
		select {
		case <-next.C:
			continue
		case <-exited:
			err = fmt.Errorf("%w (slapd exited)", err)
		case <-deadline.C:
			err = fmt.Errorf("%w (after %v)", err, timeout)
		}
		next.Stop()
		return err
	}
}

// kill ends slapd at once, paused or not; for the cleanup.
func (s *SlapdServer) kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (s *SlapdServer) adminConn() (*ldap.Conn, error) {
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: slapdOpTimeout}))
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(slapdOpTimeout)
	if err := conn.Bind(s.AdminDN, s.AdminPassword); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// writeConfig writes slapd.conf: the schemas, TLS with the test
// certificate, the modules that are there (back_mdb may be built in), an
// mdb database, the memberof and refint overlays when they are there, and
// the access rules: anonymous clients may only bind; bound users read
// everything but passwords.
func (s *SlapdServer) writeConfig(schema string) error {
	var b strings.Builder
	for _, name := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&b, "include %q\n", filepath.Join(schema, name+".schema"))
	}
	in := func(name string) string { return filepath.Join(s.dir, name) }
	fmt.Fprintf(&b, "pidfile %q\nTLSCACertificateFile %q\nTLSCertificateFile %q\nTLSCertificateKeyFile %q\n",
		in("slapd.pid"), in("ca.pem"), in("server.pem"), in("server.key"))
	modules := firstDir("/usr/lib/ldap", "/usr/lib/openldap", "/usr/lib64/openldap", "/usr/local/libexec/openldap")
	has := func(m string) bool {
		_, err := os.Stat(filepath.Join(modules, m+".la"))
		return modules != "" && err == nil
	}
	if modules != "" {
		fmt.Fprintf(&b, "modulepath %q\n", modules)
	}
	for _, m := range []string{"back_mdb", "memberof", "refint"} {
		if has(m) {
			fmt.Fprintf(&b, "moduleload %s\n", m)
		}
	}
	// slapd's default size limit (500 entries) stays for plain searches;
	// paged searches (RFC 2696) may return any number, as in Active
	// Directory.
	b.WriteString("sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited\n")
	fmt.Fprintf(&b, "database mdb\nmaxsize 33554432\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %q\n",
		s.BaseDN, s.AdminDN, s.AdminPassword, in("db"))
	b.WriteString("index objectClass eq\nindex uid,mail,cn,member,memberUid eq\n")
	if s.MemberOf = has("memberof") && has("refint"); s.MemberOf {
		b.WriteString("overlay memberof\nmemberof-group-oc groupOfNames\nmemberof-member-ad member\n" +
			"memberof-memberof-ad memberOf\nmemberof-refint true\noverlay refint\nrefint_attributes member\n")
	}
	b.WriteString("access to attrs=userPassword by self write by anonymous auth by * none\n" +
		"access to * by users read by * none\n")
	s.conf = in("slapd.conf")
	return os.WriteFile(s.conf, []byte(b.String()), 0o600)
}

// writeSlapdCerts makes a test CA and a server certificate for 127.0.0.1,
// ::1 and localhost, writes ca.pem, server.pem and server.key to dir, and
// returns the CA's PEM.
func writeSlapdCerts(dir string) ([]byte, error) {
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Foyer test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	ca, caKey, caDER, err := issue(caTmpl, nil, nil)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	_, key, leafDER, err := issue(leafTmpl, ca, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{
		"ca.pem":     caPEM,
		"server.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

// issue makes a P-256 key and a certificate for it from tmpl, signed by
// parent's key, or self-signed when parent is nil.
func issue(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, der, err
}

// freePort returns 127.0.0.1:port for a port that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// findProgram returns the first of name on PATH and the given paths.
func findProgram(name string, paths ...string) (string, error) {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: %w", name, err)
	}
	return p, nil
}

func firstDir(dirs ...string) string {
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return ""
}

// tailBuffer is a concurrency-safe log that keeps its last MiB.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const tailMax = 1 << 20

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() > tailMax {
		b.buf.Next(b.buf.Len() - tailMax/2)
	}
	return len(p), nil
}

func (b *tailBuffer) WriteString(s string) { _, _ = b.Write([]byte(s)) }

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
