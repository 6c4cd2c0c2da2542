package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is where RedisURL looks when FOYER_TEST_REDIS_URL is not
// set.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// How long a Redis helper waits for the server to answer, start or stop.
const (
	redisPingTimeout  = 5 * time.Second
	redisStartTimeout = 30 * time.Second
)

// RedisURL returns the URL of the shared test Redis: FOYER_TEST_REDIS_URL
// (redis:// or rediss://, as go-redis's ParseURL reads them), or
// DefaultRedisURL. It pings the server first; when none answers it fails
// the test under CI=true and skips it loudly elsewhere. Tests share this
// server: each should use its own RedisPrefix.
func RedisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("FOYER_TEST_REDIS_URL")
	if url == "" {
		url = DefaultRedisURL
	}
	err := pingRedis(url)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testenv: Redis is required under CI: %v", err)
		}
		t.Skipf("SKIPPING Redis tests: no server at %s (set FOYER_TEST_REDIS_URL): %v", redactURL(url), err)
	}
	return url
}

// RedisPrefix returns a fresh key prefix, "foyertest:<random>:", for one
// test on the Redis at url, and registers a cleanup that deletes every
// key under it, so tests sharing a server neither collide nor leave keys
// behind.
func RedisPrefix(t testing.TB, url string) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "foyertest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		if err := deleteRedisKeys(url, prefix); err != nil {
			t.Errorf("testenv: delete Redis keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

func pingRedis(url string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("FOYER_TEST_REDIS_URL: %w", err)
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), redisPingTimeout)
	defer cancel()
	return c.Ping(ctx).Err()
}

func deleteRedisKeys(url, prefix string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return c.Unlink(ctx, batch...).Err()
	}
	return nil
}

// redactURL hides the password of a Redis URL.
func redactURL(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return url
	}
	return url[:scheme+3] + "[redacted]" + url[at:]
}

// RedisServer is a throwaway redis-server that a test owns: nothing is
// persisted (--save "" --appendonly no), so Stop then Start brings back an
// empty server on the same address, as a Redis restarted without
// persistence. Use it to take Redis away mid-test; use RedisURL for the
// shared server otherwise.
type RedisServer struct {
	// Addr is 127.0.0.1:port; URL is redis://Addr/0.
	Addr, URL string

	bin, dir string
	args     []string
	log      redisLog

	mu   sync.Mutex
	proc *redisProc
}

// redisProc is one run of redis-server.
type redisProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// StartRedis starts redis-server on a free loopback port, with its
// directory in t.TempDir() and any extra arguments (such as "--replicaof",
// host, port), and returns once it accepts connections. t.Cleanup kills
// it; when the test failed, its log is written to the test log first.
// When redis-server is missing, StartRedis fails the test under CI=true
// and skips it otherwise.
func StartRedis(t testing.TB, args ...string) *RedisServer {
	t.Helper()
	s := &RedisServer{dir: t.TempDir(), args: args}
	var err error
	if s.bin, err = exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testenv: redis-server is required under CI: %v", err)
		}
		t.Skipf("SKIPPING Redis tests: no redis-server here (apt-get install redis-server): %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis-server log:\n%s", s.Log())
		}
		s.kill()
	})
	// A port free now may be taken before redis-server binds it: try
	// other ports when it exits early.
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: redis-server port: %v", err)
		}
		s.Addr = l.Addr().String()
		_ = l.Close()
		s.URL = "redis://" + s.Addr + "/0"
		err = s.launch()
		if err == nil {
			return s
		}
		if attempt == 3 {
			t.Fatalf("testenv: redis-server: %v\nredis-server log:\n%s", err, s.Log())
		}
		t.Logf("testenv: redis-server did not start (attempt %d), trying another port: %v", attempt, err)
	}
}

// Stop kills redis-server and waits for it to exit: the port then refuses
// connections, as a Redis that is down. Everything it held is lost.
func (s *RedisServer) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	running := s.proc != nil
	s.mu.Unlock()
	if !running {
		t.Fatal("testenv: redis-server stop: not running")
	}
	s.kill()
}

// Start starts a stopped redis-server again on the same address, empty,
// and returns once it accepts connections.
func (s *RedisServer) Start(t testing.TB) {
	t.Helper()
	if err := s.launch(); err != nil {
		t.Fatalf("testenv: redis-server start: %v\nredis-server log:\n%s", err, s.Log())
	}
}

// Log returns what redis-server has written so far (its last MiB).
func (s *RedisServer) Log() string { return s.log.String() }

// launch starts redis-server and waits until it says it accepts
// connections. On failure the process is gone.
func (s *RedisServer) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{
		"--bind", "127.0.0.1", "--port", port, "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--logfile", "", "--daemonize", "no",
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = &s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	p := &redisProc{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		readySeen := false
		for sc.Scan() {
			line := sc.Text()
			s.log.WriteString(line + "\n")
			if !readySeen && strings.Contains(line, "Ready to accept connections") {
				readySeen = true
				close(ready)
			}
		}
		err := cmd.Wait()
		s.log.WriteString(fmt.Sprintf("testenv: redis-server exited: %v\n", err))
		close(p.done)
	}()
	timer := time.NewTimer(redisStartTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		s.proc = p
		return nil
	case <-p.done:
		return errors.New("redis-server exited before accepting connections")
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("redis-server did not start within %v", redisStartTimeout)
	}
}

// kill ends redis-server at once; for Stop and the cleanup.
func (s *RedisServer) kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Port returns the port redis-server listens on, for arguments such as
// --replicaof.
func (s *RedisServer) Port() string {
	_, port, _ := net.SplitHostPort(s.Addr)
	return port
}

// WaitForLog waits until redis-server's log (since StartRedis) holds
// substr, such as "MASTER <-> REPLICA sync: Finished with success" on a
// replica, and fails the test if it does not within 30s.
func (s *RedisServer) WaitForLog(t testing.TB, substr string) {
	t.Helper()
	timer := time.NewTimer(redisStartTimeout)
	defer timer.Stop()
	for {
		logged, changed := s.log.contains(substr)
		if logged {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("testenv: redis-server did not log %q within %v\nredis-server log:\n%s", substr, redisStartTimeout, s.Log())
		}
	}
}

// RedisCluster is a throwaway Redis Cluster of three masters, without
// replicas, that a test owns.
type RedisCluster struct {
	// Addrs are the nodes' host:port addresses, the seeds for a client.
	Addrs []string
	// Nodes are the servers, in the order of Addrs.
	Nodes []*RedisServer
}

// StartRedisCluster starts three redis-server nodes in cluster mode, joins
// them with redis-cli --cluster create (the slots split evenly), and
// returns once every node says the cluster is ok. t.Cleanup kills them.
// When redis-server or redis-cli is missing, it fails the test under
// CI=true and skips it otherwise.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testenv: redis-cli is required under CI: %v", err)
		}
		t.Skipf("SKIPPING Redis Cluster tests: no redis-cli here (apt-get install redis-tools): %v", err)
	}
	c := &RedisCluster{}
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: cluster bus port: %v", err)
		}
		_, bus, _ := net.SplitHostPort(l.Addr().String())
		_ = l.Close()
		n := StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", bus, "--cluster-node-timeout", "5000")
		c.Nodes = append(c.Nodes, n)
		c.Addrs = append(c.Addrs, n.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		n.WaitForLog(t, "Cluster state changed: ok")
	}
	return c
}

// redisLog is a concurrency-safe log that keeps its last MiB and tells
// waiters when it grows.
type redisLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced at each write
}

func (b *redisLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() > 1<<20 {
		b.buf.Next(b.buf.Len() - 1<<19)
	}
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return len(p), nil
}

// contains reports whether the log holds substr and, if not, returns a
// channel closed at the next write.
func (b *redisLog) contains(substr string) (bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bytes.Contains(b.buf.Bytes(), []byte(substr)) {
		return true, nil
	}
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return false, b.changed
}

func (b *redisLog) WriteString(s string) { _, _ = b.Write([]byte(s)) }

func (b *redisLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
