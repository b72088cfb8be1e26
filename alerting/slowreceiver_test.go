package alerting

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/store"
)

// TestHangingWebhookDelaysNoEmail: a webhook that hangs holds its own
// channel only. An alert routed to it comes first; the next alert's email
// reaches a real SMTP server (postfix's smtp-sink) while the webhook
// request is still hanging, not after its timeout.
func TestHangingWebhookDelaysNoEmail(t *testing.T) {
	port := peers.FreePort(t)
	dir, _ := smtpSink(t, port)
	release := make(chan struct{})
	var mu sync.Mutex
	hanging, calls := false, 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hanging, calls = true, calls+1
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		hanging = false
		mu.Unlock()
	}))
	defer hook.Close()
	defer close(release)

	a := alertingConfig(t, `  email: {smtp: "`+peers.Addr(port)+`", tls: none, from: w@example.test, to: [admins@example.test]}
  receivers:
    hook:
      webhook: {url: "`+hook.URL+`/hook", secret: 0123456789abcdef-shared}
  routes:
    - {match: {check: api}, receiver: hook}
`)
	rs, err := BuildReceivers(a, "lh.example.test")
	if err != nil {
		t.Fatal(err)
	}
	router, err := NewRouter(a)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The webhook's attempt may take as long as it likes: the email must
	// not wait for it.
	d := New(s.DB(), Config{Receivers: rs, Router: router, Hostname: "lh.example.test", SendTimeout: 10 * time.Minute})
	now := time.Now()
	queue(t, s.DB(), now, "check_down", `{"check":"api","from":"up","to":"down","since":"2026-11-25T02:00:00Z","detail":"timeout","incident":1}`)
	queue(t, s.DB(), now, "check_down", `{"check":"wiki","from":"up","to":"down","since":"2026-11-25T02:00:00Z","detail":"status 503","incident":2}`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// smtp-sink writes a message's file as it receives it: wait for the
	// alert in it, not for the file.
	arrived := func() bool {
		for _, m := range messages(dir) {
			if strings.Contains(m, "wiki") {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(60 * time.Second)
	for !arrived() {
		if time.Now().After(deadline) {
			t.Fatal("no email within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The webhook's attempt is still going: nothing recorded on its
	// delivery yet.
	var attempts int
	s.DB().QueryRow(`SELECT attempts FROM deliveries WHERE receiver = 'hook/webhook'`).Scan(&attempts)
	mu.Lock()
	stillHanging, n := hanging, calls
	mu.Unlock()
	if attempts != 0 || n != 1 || !stillHanging {
		t.Fatalf("the email came after the webhook's attempt ended (attempts recorded %d, webhook calls %d, hanging %v)", attempts, n, stillHanging)
	}
}
