package logapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/store"
)

// TestLiveTailThroughNginx: behind a real nginx that closes a proxied
// connection silent for 3 s (proxy_read_timeout), the live tail's pings
// keep a quiet tail open, and a line after 10 s of quiet still arrives.
func TestLiveTailThroughNginx(t *testing.T) {
	bin := peers.Require(t, "nginx")["nginx"]
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &Handler{Store: s, Location: time.UTC, Now: time.Now, Ping: time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/logs/tail", h.Tail)
	backend := httptest.NewServer(mux)
	t.Cleanup(backend.Close)

	dir := t.TempDir()
	port := peers.FreePort(t)
	conf := fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    location / {
      proxy_pass %[3]s;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 3s;
      proxy_send_timeout 3s;
    }
  }
}
`, dir, port, backend.URL)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := peers.Start(t, bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	p.WaitTCP(peers.Addr(port), 30*time.Second)

	c, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/v1/logs/tail?batch=1&q=wanted", port), nil)
	if err != nil {
		t.Fatalf("dial through nginx: %v", err)
	}
	defer c.Close()
	quietUntil := time.Now().Add(10 * time.Second)
	pings := 0
	for time.Now().Before(quietUntil) {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		var m LiveMessage
		if err := c.ReadJSON(&m); err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("the quiet tail was closed after %d pings: %v\n%s", pings, err, b)
		}
		if m.Type == "ping" {
			pings++
		}
	}
	if _, err := s.Append(context.Background(), "web1", []store.Record{rec("", "app", "the wanted line", time.Now())}); err != nil {
		t.Fatal(err)
	}
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		var m LiveMessage
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("after the quiet: %v", err)
		}
		if len(m.Lines) > 0 {
			if !strings.Contains(m.Lines[0].Line, "wanted") {
				t.Fatalf("got %+v", m.Lines)
			}
			return
		}
	}
}
