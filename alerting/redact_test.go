package alerting

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T000/B000/XXXXSECRET": "https://hooks.slack.com/…",
		"https://hc-ping.com/5b1c2e0a-2f6e-4c55":                "https://hc-ping.com/…",
		"http://h:8080/hook?token=SECRET":                       "http://h:8080/…",
		"https://user:pw@h/":                                    "https://h",
		"https://h":                                             "https://h",
		"not a url":                                             "(a URL)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// closedURL is an address nothing listens on, so a request fails with an
// error that names the URL.
func closedURL(t *testing.T, path string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + path
}

// TestSecretURLsNotKept: a webhook whose URL holds its token fails; the
// log and deliveries.last_error name the host, never the token; the
// watchdog's failure log the same.
func TestSecretURLsNotKept(t *testing.T) {
	const secret = "tok-5b1c2e0a2f6e4c55"
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	s.DB().Exec(`INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), "check_down",
		`{"check":"wiki","from":"up","to":"down","since":"2026-11-25T02:00:00Z","detail":"status 503","incident":9}`)
	hook := closedURL(t, "/hooks/"+secret+"?key="+secret)
	d := New(s.DB(), Config{Webhook: NewWebhook(hook, "0123456789abcdef-shared"), Hostname: "lh", Now: func() time.Time { return now }, Logger: logger})
	if err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	var lastErr string
	s.DB().QueryRow(`SELECT last_error FROM deliveries`).Scan(&lastErr)
	if lastErr == "" || strings.Contains(lastErr, secret) {
		t.Errorf("last_error %q", lastErr)
	}
	wd := NewWatchdog(closedURL(t, "/ping/"+secret), time.Minute, nil, logger)
	wd.ping(context.Background())
	if !strings.Contains(logs.String(), "watchdog ping failed") || !strings.Contains(logs.String(), "alert not delivered") {
		t.Fatalf("expected failures logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("log names the secret:\n%s", logs.String())
	}
}
