package alerting

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

// TestWebhook: the receiver gets a signed JSON body with a delivery id
// that stays the same across retries; a 503 is retried, a 2xx ends it.
func TestWebhook(t *testing.T) {
	const secret = "0123456789abcdef-shared"
	var mu sync.Mutex
	var got []WebhookPayload
	var ids []string
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if r.Header.Get("X-Watchpost-Signature") != Sign(secret, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		ids = append(ids, r.Header.Get("X-Watchpost-Delivery"))
		if calls == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var p WebhookPayload
		json.Unmarshal(body, &p)
		got = append(got, p)
	}))
	defer srv.Close()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	s.DB().Exec(`INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), "check_down",
		`{"check":"wiki","from":"up","to":"down","since":"2026-11-25T02:00:00Z","detail":"status 503","incident":9}`)
	clock := now
	d := New(s.DB(), Config{Webhook: NewWebhook(srv.URL, secret), Hostname: "lh", Now: func() time.Time { return clock }})
	d.Drain(context.Background())
	clock = clock.Add(time.Hour)
	d.Drain(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Kind != "check_down" || got[0].Subject != "[watchpost] wiki (incident #9)" {
		t.Fatalf("received %+v after %d calls", got, calls)
	}
	var data map[string]any
	json.Unmarshal(got[0].Data, &data)
	if data["detail"] != "status 503" {
		t.Errorf("data %v", data)
	}
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("delivery ids %v: a retry must carry the same id", ids)
	}
	if Sign(secret, []byte("x")) == Sign("other-secret-0123", []byte("x")) {
		t.Error("signature does not depend on the secret")
	}
}
