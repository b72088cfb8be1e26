package logparse

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// TestNginxPeer runs the real nginx on loopback (IPv4 and IPv6), sends it
// requests with hostile user agents, and parses the access logs it writes
// in the combined format (default escaping: \x22), with escape=json (\"),
// in a vhost_combined-shaped format, and its error log.
func TestNginxPeer(t *testing.T) {
	bin := peers.Require(t, "nginx")["nginx"]
	dir := t.TempDir()
	port := peers.FreePort(t)
	if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events {}
http {
    client_body_temp_path %[1]s/client_temp;
    proxy_temp_path %[1]s/proxy_temp;
    fastcgi_temp_path %[1]s/fastcgi_temp;
    uwsgi_temp_path %[1]s/uwsgi_temp;
    scgi_temp_path %[1]s/scgi_temp;
    log_format vhost '$host:$server_port $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';
    log_format jsonesc escape=json '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';
    server {
        listen 127.0.0.1:%[2]d;
        listen [::1]:%[2]d;
        server_name localhost;
        root %[1]s/www;
        access_log %[1]s/access.log combined;
        access_log %[1]s/vhost.log vhost;
        access_log %[1]s/json.log jsonesc;
    }
}
`, dir, port)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// One process, no user switch: the workers would otherwise run as
	// nobody and could not read the test's private temp folder.
	cmd := exec.Command(bin, "-p", dir, "-c", confFile, "-e", filepath.Join(dir, "startup.log"), "-g", "daemon off; master_process off;")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	p := peers.StartCmd(t, cmd)
	p.WaitTCP(peers.Addr(port), 10*time.Second)
	v6 := fmt.Sprintf("[::1]:%d", port)
	if c, err := net.DialTimeout("tcp", v6, time.Second); err != nil {
		t.Fatalf("nginx on %s: %v", v6, err)
	} else {
		c.Close()
	}

	agent := `Mozilla/5.0 "quoted" back\slash (X11)`
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(url, referer string) {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", agent)
		if referer != "" {
			req.Header.Set("Referer", referer)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get(fmt.Sprintf("http://127.0.0.1:%d/", port), "")
	get(fmt.Sprintf("http://%s/missing?q=a%%20b", v6), "https://ref.example/?x=\"y\"")
	// A TLS ClientHello on the plain port: nginx answers 400 and logs
	// the bytes escaped.
	if c, err := net.DialTimeout("tcp", peers.Addr(port), time.Second); err == nil {
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write([]byte("\x16\x03\x01\x00\x05hello\r\n\r\n"))
		bufio.NewReader(c).ReadString('\n')
		c.Close()
	}

	read := func(name string, n int) []string {
		var lines []string
		peers.Eventually(t, 10*time.Second, func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, name))
			lines = strings.Split(strings.TrimSpace(string(b)), "\n")
			return len(b) > 0 && len(lines) >= n
		})
		return lines
	}
	now := time.Now()
	check := func(name, format string, ev Event, want map[string]string) {
		t.Helper()
		if d := now.Sub(ev.Time); d < -time.Minute || d > time.Minute {
			t.Errorf("%s: time %v, now %v", name, ev.Time, now)
		}
		for k, v := range want {
			if got, _ := ev.Field(k); got != v {
				t.Errorf("%s (%s): %s = %q, want %q; fields %v", name, format, k, got, v, ev.Fields)
			}
		}
	}
	for _, tc := range []struct{ file, format string }{{"access.log", "combined"}, {"json.log", "combined"}, {"vhost.log", "vhost_combined"}} {
		lines := read(tc.file, 3)
		for _, format := range []string{tc.format, ""} {
			ev0 := Parse(format, []byte(lines[0]), now, time.UTC)
			check(tc.file, format, ev0, map[string]string{"client": "127.0.0.1", "method": "GET", "path": "/", "status": "200", "bytes": "6", "user_agent": agent})
			ev1 := Parse(format, []byte(lines[1]), now, time.UTC)
			check(tc.file, format, ev1, map[string]string{"client": "::1", "path": "/missing?q=a%20b", "status": "404", "user_agent": agent, "referer": "https://ref.example/?x=\"y\""})
			ev2 := Parse(format, []byte(lines[2]), now, time.UTC)
			check(tc.file, format, ev2, map[string]string{"status": "400"})
			if _, ok := ev2.Field("method"); ok {
				t.Errorf("%s: a TLS handshake read as a request: %v", tc.file, ev2.Fields)
			}
			if tc.format == "vhost_combined" {
				check(tc.file, format, ev0, map[string]string{"vhost": "127.0.0.1", "server_port": fmt.Sprint(port)})
				check(tc.file, format, ev1, map[string]string{"vhost": "::1", "server_port": fmt.Sprint(port)})
			}
		}
	}

	var errLine string
	for _, l := range read("error.log", 1) {
		if strings.Contains(l, "/missing") {
			errLine = l
		}
	}
	if errLine == "" {
		t.Fatalf("no error log line for /missing in %s", strings.Join(read("error.log", 1), "\n"))
	}
	for _, format := range []string{"nginx_error", ""} {
		ev := Parse(format, []byte(errLine), now, time.UTC)
		if ev.Severity != 3 || ev.Program != "nginx" || ev.PID == "" || !strings.Contains(ev.Message, "No such file or directory") {
			t.Errorf("%s: %+v", errLine, ev)
		}
		check("error.log", format, ev, map[string]string{"client": "::1", "server": "localhost", "request": "GET /missing?q=a%20b HTTP/1.1", "host": v6})
	}
}
