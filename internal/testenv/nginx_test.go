package testenv

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seen is what the upstream received, as it echoes it back.
type seen struct {
	Host, Path, Query, XFF, XFP, Remote string
}

func echoUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		_ = json.NewEncoder(w).Encode(seen{
			Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery,
			XFF: r.Header.Get("X-Forwarded-For"), XFP: r.Header.Get("X-Forwarded-Proto"), Remote: host,
		})
	}))
	t.Cleanup(up.Close)
	return up
}

func get(t *testing.T, c *http.Client, url string, header http.Header) (int, seen) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var s seen
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode, s
}

// TestNginxProxyForwards: TLS with the test CA, the path and query
// unchanged, Host kept, and the client's address appended to
// X-Forwarded-For, whatever the client sent there.
func TestNginxProxyForwards(t *testing.T) {
	t.Parallel()
	n := Nginx(t, echoUpstream(t).URL, NginxOptions{})
	c := n.Client(t, nil, "127.0.0.2")
	tests := []struct {
		name    string
		path    string
		header  http.Header
		wantXFF string
	}{
		{name: "plain", path: "/id/login?req=a%2Fb&x=1", wantXFF: "127.0.0.2"},
		{name: "client sends its own X-Forwarded-For", path: "/",
			header: http.Header{"X-Forwarded-For": {"203.0.113.7"}}, wantXFF: "203.0.113.7, 127.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, s := get(t, c, n.URL+tt.path, tt.header)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			path, query, _ := strings.Cut(tt.path, "?")
			if s.Path != path || s.Query != query {
				t.Errorf("upstream saw %s?%s, want %s", s.Path, s.Query, tt.path)
			}
			if s.Host != "127.0.0.1" {
				t.Errorf("upstream saw Host %q, want 127.0.0.1", s.Host)
			}
			if s.XFF != tt.wantXFF || s.XFP != "https" {
				t.Errorf("upstream saw X-Forwarded-For %q, X-Forwarded-Proto %q; want %q, https", s.XFF, s.XFP, tt.wantXFF)
			}
			if s.Remote != "127.0.0.1" {
				t.Errorf("upstream's peer is %s, want nginx at 127.0.0.1", s.Remote)
			}
		})
	}
	if log := n.AccessLog(); !strings.Contains(log, `127.0.0.2 "GET /id/login?req=a%2Fb&x=1 HTTP/1.1" 200`) {
		t.Errorf("access log:\n%s", log)
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		if _, err := http.Get(n.URL + "/"); err == nil {
			t.Fatal("a client without the test CA connected")
		}
	})
}

// TestNginxProxyServerTemplate: a custom server block proxies only its
// location; the rest is nginx's own 404.
func TestNginxProxyServerTemplate(t *testing.T) {
	t.Parallel()
	n := Nginx(t, echoUpstream(t).URL, NginxOptions{Server: `server {
    listen {{.Listen}} ssl;
    ssl_certificate     {{.Cert}};
    ssl_certificate_key {{.Key}};
    location /id/ {
        proxy_pass {{.Upstream}};
    }
}`})
	c := n.Client(t, nil, "")
	if status, s := get(t, c, n.URL+"/id/x", nil); status != http.StatusOK || s.Path != "/id/x" {
		t.Errorf("/id/x: %d, upstream saw %q", status, s.Path)
	}
	if status, _ := get(t, c, n.URL+"/other", nil); status != http.StatusNotFound {
		t.Errorf("/other: %d, want nginx's 404", status)
	}
}

// TestNginxProxyStop: stopping nginx stops its workers too.
func TestNginxProxyStop(t *testing.T) {
	t.Parallel()
	n := Nginx(t, echoUpstream(t).URL, NginxOptions{})
	pgid := n.cmd.Process.Pid
	raw, err := os.ReadFile(n.path("nginx.pid"))
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(raw))); err != nil || pid != pgid {
		t.Fatalf("pid file %q (%v), want %d", raw, err, pgid)
	}
	n.stop(t)
	if err := syscall.Kill(-pgid, 0); err != syscall.ESRCH {
		t.Errorf("nginx's process group is still there after stop: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", n.Addr, time.Second); err == nil {
		conn.Close()
		t.Error("nginx's port still accepts connections after stop")
	}
}

func TestNginxProxyCheckUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		upstream string
		wantErr  bool
	}{
		{name: "http", upstream: "http://127.0.0.1:5556"},
		{name: "https", upstream: "https://foyer.internal:8443"},
		{name: "trailing slash", upstream: "http://127.0.0.1:5556/", wantErr: true},
		{name: "path", upstream: "http://127.0.0.1:5556/id", wantErr: true},
		{name: "no scheme", upstream: "127.0.0.1:5556", wantErr: true},
		{name: "other scheme", upstream: "unix:/run/foyer.sock", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkUpstream(tt.upstream); (err != nil) != tt.wantErr {
				t.Errorf("checkUpstream(%q) = %v, want error %v", tt.upstream, err, tt.wantErr)
			}
		})
	}
}
