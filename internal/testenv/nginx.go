package testenv

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// How long nginx may take to start serving and to stop.
const (
	nginxStartTimeout = 30 * time.Second
	nginxStopTimeout  = 15 * time.Second
)

// DefaultNginxServer is the server block Nginx uses when
// NginxOptions.Server is empty: TLS on the listener, everything proxied
// to the upstream with the path unchanged, the client's Host kept, and
// the client's address and scheme in X-Forwarded-For and
// X-Forwarded-Proto.
const DefaultNginxServer = `server {
    listen {{.Listen}} ssl;
    server_name localhost;
    ssl_certificate     {{.Cert}};
    ssl_certificate_key {{.Key}};
    location / {
        proxy_pass {{.Upstream}};
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }
}
`

// NginxOptions tunes Nginx.
type NginxOptions struct {
	// Server is the server block, a text/template executed with an
	// NginxSite. Empty means DefaultNginxServer. It is placed inside the
	// http block that Nginx writes (logs and temporary files in the
	// test's directory), so it may hold more than one server block.
	Server string
}

// NginxSite is what a server block template is executed with.
type NginxSite struct {
	// Listen is the loopback host:port nginx must listen on with TLS.
	Listen string
	// Cert and Key are the PEM files of a certificate for 127.0.0.1, ::1
	// and localhost, issued by the NginxServer's CA.
	Cert, Key string
	// Upstream is the URL given to Nginx, such as http://127.0.0.1:5556.
	Upstream string
}

// NginxServer is a running nginx that terminates TLS and proxies to an
// upstream.
type NginxServer struct {
	// URL is https://127.0.0.1:port, with no path.
	URL string
	// Addr is the host:port nginx listens on.
	Addr string
	// CAPEM is the test CA that issued the server certificate; CAFile
	// holds the same PEM.
	CAPEM  []byte
	CAFile string
	// Config is the nginx.conf nginx runs.
	Config string

	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when nginx has exited
	out  tailBuffer    // nginx's own stdout and stderr
}

// Nginx starts Debian's nginx (/usr/sbin/nginx, or nginx on PATH) as a
// child process of the test, with its configuration, pid file, logs and
// temporary files in t.TempDir(), listening with TLS on a free loopback
// port and proxying to upstream (an http or https URL without a path).
// It returns once nginx completes a TLS handshake. t.Cleanup stops nginx
// and its workers; when the test failed, nginx's logs are written to the
// test log first. When nginx is missing, Nginx fails the test under
// CI=true and skips it otherwise.
func Nginx(t testing.TB, upstream string, opts NginxOptions) *NginxServer {
	t.Helper()
	bin, err := findProgram("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
	if err != nil {
		msg := "testenv: no nginx (apt-get install nginx-light; .ci/run does): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING REVERSE-PROXY TEST — " + msg)
	}
	if err := checkUpstream(upstream); err != nil {
		t.Fatalf("testenv: nginx upstream: %v", err)
	}
	text := opts.Server
	if text == "" {
		text = DefaultNginxServer
	}
	tmpl, err := template.New("server").Option("missingkey=error").Parse(text)
	if err != nil {
		t.Fatalf("testenv: nginx server template: %v", err)
	}
	n := &NginxServer{dir: t.TempDir()}
	if n.CAPEM, err = writeSlapdCerts(n.dir); err != nil {
		t.Fatalf("testenv: nginx certificates: %v", err)
	}
	n.CAFile = n.path("ca.pem")
	if err := os.MkdirAll(n.path("temp"), 0o700); err != nil {
		t.Fatalf("testenv: nginx: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx error log:\n%s\nnginx access log:\n%s", n.ErrorLog(), n.AccessLog())
		}
		n.stop(t)
	})

	// A port free now may be taken before nginx binds it: try again with
	// another port when nginx exits early.
	for attempt := 1; ; attempt++ {
		addr, err := freePort()
		if err != nil {
			t.Fatalf("testenv: nginx port: %v", err)
		}
		site := NginxSite{Listen: addr, Cert: n.path("server.pem"), Key: n.path("server.key"), Upstream: upstream}
		if err := n.writeConfig(tmpl, site); err != nil {
			t.Fatalf("testenv: nginx config: %v", err)
		}
		n.Addr, n.URL = addr, "https://"+addr
		err = n.launch(bin)
		if err == nil {
			return n
		}
		if attempt == 3 || !strings.Contains(n.ErrorLog()+n.out.String(), "in use") {
			t.Fatalf("testenv: nginx: %v\nnginx output:\n%s\nnginx error log:\n%s", err, n.out.String(), n.ErrorLog())
		}
		t.Logf("testenv: nginx did not start (attempt %d), trying another port: %v", attempt, err)
	}
}

// checkUpstream accepts http and https URLs with a host and no path, so
// that nginx passes request paths through unchanged.
func checkUpstream(upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL with a host", upstream)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q has a path, query or fragment: nginx would rewrite request paths", upstream)
	}
	return nil
}

func (n *NginxServer) path(name string) string { return filepath.Join(n.dir, name) }

// writeConfig writes nginx.conf: one worker, everything nginx writes kept
// in the test's directory, an access log that shows what was forwarded,
// and the server block from tmpl.
func (n *NginxServer) writeConfig(tmpl *template.Template, site NginxSite) error {
	var server bytes.Buffer
	if err := tmpl.Execute(&server, site); err != nil {
		return fmt.Errorf("server template: %w", err)
	}
	var b strings.Builder
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody, who cannot enter the
		// test's private temporary directory.
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, "worker_processes 1;\npid %s;\nlock_file %s;\nerror_log %s info;\n",
		n.path("nginx.pid"), n.path("nginx.lock"), n.path("error.log"))
	b.WriteString("events {\n    worker_connections 256;\n}\nhttp {\n")
	b.WriteString("    log_format foyertest '$remote_addr \"$request\" $status host=\"$host\" " +
		"xff=\"$proxy_add_x_forwarded_for\" upstream=$upstream_addr';\n")
	fmt.Fprintf(&b, "    access_log %s foyertest;\n", n.path("access.log"))
	for _, kind := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", kind, n.path(filepath.Join("temp", kind)))
	}
	b.WriteString(server.String())
	b.WriteString("\n}\n")
	n.Config = b.String()
	return os.WriteFile(n.path("nginx.conf"), []byte(n.Config), 0o600)
}

// launch starts nginx in the foreground, in its own process group so
// that its workers can be stopped with it, and waits until it completes
// a TLS handshake. On failure the processes are gone.
func (n *NginxServer) launch(bin string) error {
	cmd := exec.Command(bin, "-p", n.dir, "-c", n.path("nginx.conf"), "-e", n.path("error.log"), "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = &n.out, &n.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		n.out.WriteString(fmt.Sprintf("testenv: nginx exited: %v\n", err))
		close(done)
	}()
	n.cmd, n.done = cmd, done
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(n.CAPEM)
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	err := retry(done, nginxStartTimeout, func() error {
		d := &net.Dialer{Timeout: time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", n.Addr, cfg)
		if err == nil {
			_ = conn.Close()
		}
		return err
	})
	if err != nil {
		n.killGroup()
		<-done
		n.cmd = nil
		return fmt.Errorf("nginx does not serve TLS on %s: %w", n.Addr, err)
	}
	return nil
}

// stop asks nginx for a fast shutdown (SIGTERM: the master stops its
// workers and exits) and kills the process group if that takes too long.
func (n *NginxServer) stop(t testing.TB) {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(nginxStopTimeout)
	defer timer.Stop()
	select {
	case <-n.done:
	case <-timer.C:
		t.Logf("testenv: nginx did not stop in %v; killing it", nginxStopTimeout)
		n.killGroup()
		<-n.done
	}
	n.cmd = nil
}

// killGroup kills nginx's master and workers: the process group that
// launch created, whose id is the master's pid.
func (n *NginxServer) killGroup() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// RootCAs returns a pool holding the test CA.
func (n *NginxServer) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(n.CAPEM)
	return pool
}

// Client returns an http.Client that trusts the test CA, with the given
// cookie jar (nil for none), that does not follow redirects and that
// connects from the local address source (an IP such as 127.0.0.2;
// empty for the system's choice), so that a test can tell its own
// address from nginx's. A source that is not an IP fails the test.
func (n *NginxServer) Client(t testing.TB, jar http.CookieJar, source string) *http.Client {
	t.Helper()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if source != "" {
		ip := net.ParseIP(source)
		if ip == nil {
			t.Fatalf("testenv: nginx client: source %q is not an IP address", source)
		}
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: n.RootCAs(), MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &http.Client{
		Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ErrorLog returns nginx's error log so far.
func (n *NginxServer) ErrorLog() string { return n.readLog("error.log") }

// AccessLog returns nginx's access log so far, one line a request:
// the client's address, the request line, the status, the Host and
// X-Forwarded-For headers nginx sent upstream, and the upstream address.
func (n *NginxServer) AccessLog() string { return n.readLog("access.log") }

func (n *NginxServer) readLog(name string) string {
	b, err := os.ReadFile(n.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", name, err)
	}
	return string(b)
}
