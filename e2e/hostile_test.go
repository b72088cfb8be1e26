package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostileLoghost starts a loghost with the given server keys added.
func hostileLoghost(t *testing.T, serverKeys string) (base string, l *loghost, dir string) {
	t.Helper()
	dir = t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(`server:
  listen: 127.0.0.1:%d
  syslog_listen: ""
  admin_token: e2e-admin-token-0123
%sstorage:
  path: %s
hosts:
  web1: {token: token-web1}
self:
  enabled: false
`, port, serverKeys, filepath.Join(dir, "watchpost.db"))
	path := filepath.Join(dir, "watchpost.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l = startLoghost(t, "-config", path)
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	l.waitReady(base)
	return base, l, dir
}

func dialFrom(t *testing.T, from, addr string) (net.Conn, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// clientFrom is an HTTP client whose connections come from a loopback
// address of its own.
func clientFrom(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestSlowBodiesStallNothing is the report's attack in small: login
// posts that promise 100 kB and send a byte now and then. One address
// gets its per-address share, the rest of its connections are closed at
// once, the ones it holds end at the body timeout, and meanwhile
// /healthz, the status page and ingest answer other clients.
func TestSlowBodiesStallNothing(t *testing.T) {
	base, _, _ := hostileLoghost(t, "  max_connections_per_address: 8\n  body_timeout: 1s\n")
	addr := strings.TrimPrefix(base, "http://")
	var held []net.Conn
	for range 40 {
		c, err := dialFrom(t, "127.0.0.1", addr)
		if err != nil {
			continue
		}
		fmt.Fprintf(c, "POST /admin/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nu")
		held = append(held, c)
	}
	other := clientFrom("127.0.0.2")
	for _, path := range []string{"/healthz", "/"} {
		resp, err := other.Get(base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s during the attack: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/ingest", strings.NewReader(`{"line":"during the attack"}`+"\n"))
	req.Header.Set("Authorization", "Bearer token-web1")
	resp, err := clientFrom("127.0.0.3").Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ingest during the attack: %v %v", resp, err)
	}
	resp.Body.Close()
	// Every attacking connection ends: closed at once beyond the share,
	// answered and closed at the body timeout within it.
	open := 0
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, err := io.ReadAll(bufio.NewReader(c))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			open++
			continue
		}
		if len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.1 4")) {
			t.Errorf("a slow body got %q", b)
		}
	}
	if open > 0 {
		t.Fatalf("%d of %d slow connections still open after 20 s", open, len(held))
	}
}
