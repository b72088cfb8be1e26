package alerting

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIncidentLinks: with PublicURL, every message about an incident —
// a check's, a rule's opening and its end — ends with its page's link,
// in the email, the Matrix message (text and HTML) and the webhook
// (text and url); without it, none.
func TestIncidentLinks(t *testing.T) {
	var mu sync.Mutex
	var hooks []WebhookPayload
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p WebhookPayload
		json.Unmarshal(b, &p)
		mu.Lock()
		hooks = append(hooks, p)
		mu.Unlock()
	}))
	defer srv.Close()
	db := openDB(t)
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	db.Exec(`INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), "check_down",
		`{"check":"wiki","from":"up","to":"down","since":"2026-11-25T02:00:00Z","detail":"status 503","incident":9}`)
	tx, _ := db.Begin()
	id, _, err := Fire(context.Background(), tx, RuleAlert("critical", "oom", map[string]string{"host": "web1"}, now, map[string]string{"Title": "oom"}))
	if err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	mail, mx := &recorder{}, &mxRecorder{}
	d := New(db, Config{Email: mail, Matrix: mx, Webhook: NewWebhook(srv.URL, "0123456789abcdef-shared"), Hostname: "lh",
		PublicURL: "https://status.example.org/", Now: func() time.Time { return now }})
	d.Drain(context.Background())
	if _, err := ResolveByHand(context.Background(), db, id, "ana", now); err != nil {
		t.Fatal(err)
	}
	d.Drain(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(mail.msgs) != 3 || len(mx.msgs) != 3 || len(hooks) != 3 {
		t.Fatalf("%d emails, %d Matrix messages, %d webhooks", len(mail.msgs), len(mx.msgs), len(hooks))
	}
	want := []string{"https://status.example.org/admin/incidents/9", "https://status.example.org/admin/incidents/1", "https://status.example.org/admin/incidents/1"}
	for i, w := range want {
		if !strings.HasSuffix(strings.TrimSpace(mail.msgs[i].Text), "Incident page: "+w) || !strings.Contains(mail.msgs[i].HTML, `href="`+w+`"`) {
			t.Errorf("email %d: %q", i, mail.msgs[i].Text)
		}
		if !strings.Contains(mx.msgs[i].Text, w) || !strings.Contains(mx.msgs[i].HTML, w) {
			t.Errorf("matrix %d: %q", i, mx.msgs[i].Text)
		}
		if hooks[i].URL != w || !strings.Contains(hooks[i].Text, w) {
			t.Errorf("webhook %d: %q %q", i, hooks[i].URL, hooks[i].Text)
		}
	}
}
