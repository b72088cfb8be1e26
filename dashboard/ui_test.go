package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLogsPage: /admin/logs is the logs explorer's handler behind the
// sign-in, and a placeholder without one.
func TestLogsPage(t *testing.T) {
	f := newFixture(t, UIDeps{})
	cookie, _ := f.login("alice", alicePW)
	w := f.do("GET", "/admin/logs?q=%3Cscript%3E", "", nil, nil, cookie)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Log search is not available.") ||
		!strings.Contains(w.Body.String(), `value="&lt;script&gt;"`) {
		t.Fatalf("placeholder: %d\n%s", w.Code, w.Body)
	}
	var seen string
	f = newFixture(t, UIDeps{Logs: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = PrincipalFrom(r.Context())
		io.WriteString(w, "explorer")
	})})
	if w := f.do("GET", "/admin/logs", "", nil, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("signed out: %d", w.Code)
	}
	cookie, _ = f.login("alice", alicePW)
	if w := f.do("GET", "/admin/logs", "", nil, nil, cookie); w.Body.String() != "explorer" || seen != "alice" {
		t.Fatalf("explorer: %q as %q", w.Body, seen)
	}
}

func TestHomePage(t *testing.T) {
	f := newFixture(t, UIDeps{})
	cookie, csrf := f.login("alice", alicePW)
	body := f.do("GET", "/admin/", "", nil, nil, cookie).Body.String()
	for _, want := range []string{
		"Watchpost admin", "Signed in as <strong>alice</strong>",
		`<form class="logout" method="post" action="/admin/logout">`, `name="csrf" value="` + csrf + `"`,
		`<form class="search" method="get" action="/admin/logs"`, `href="/admin/static/style.css"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	// CSP forbids inline scripts and styles; the pages must have none.
	for _, bad := range []string{"<script", "style=", "<style", "onclick", "http://", "https://"} {
		if strings.Contains(body, bad) {
			t.Errorf("home page contains %q", bad)
		}
	}
	css := f.do("GET", "/admin/static/style.css", "", nil, nil)
	if css.Code != 200 || !strings.HasPrefix(css.Header().Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %q", css.Code, css.Header().Get("Content-Type"))
	}
	if w := f.do("GET", "/admin/static/", "", nil, nil); w.Code != 404 {
		t.Errorf("static directory listing: %d", w.Code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, UIDeps{})
	for _, target := range []string{"/admin/login", "/admin/", "/api/v1/thing", "/admin/static/style.css"} {
		w := f.do("GET", target, "", nil, nil)
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "script-src 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %q", target, csp, d)
			}
		}
		for k, v := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if h.Get(k) != v {
				t.Errorf("%s: %s %q, want %q", target, k, h.Get(k), v)
			}
		}
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, http.StatusTeapot, `bad "thing" <x>`)
	if w.Code != http.StatusTeapot || w.Header().Get("Content-Type") != "application/json; charset=utf-8" ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	if strings.Contains(w.Body.String(), "<x>") {
		t.Errorf("markup not escaped: %s", w.Body)
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != `bad "thing" <x>` || len(body) != 1 {
		t.Errorf("body %s", w.Body)
	}
	w = httptest.NewRecorder()
	WriteError(w, http.StatusNotFound, "")
	if !strings.Contains(w.Body.String(), `"not found"`) {
		t.Errorf("empty message: %s", w.Body)
	}
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name  string
		ready func() error
		code  int
		body  string
	}{
		{"liveness only", nil, 200, "ok\n"},
		{"ready", func() error { return nil }, 200, "ok\n"},
		{"not ready", func() error { return errors.New("open /var/lib/watchpost/db: locked") }, 503, "not ready\n"},
		{"degraded", func() error { return fmt.Errorf("store: %w", Degraded("disk full")) }, 503, "degraded: disk full\n"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		Healthz(tt.ready).ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
		if w.Code != tt.code || w.Body.String() != tt.body {
			t.Errorf("%s: %d %q", tt.name, w.Code, w.Body)
		}
	}
}

func TestStatusPageRendering(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	days := make([]StatusDay, 90)
	for i := range days {
		days[i] = StatusDay{Day: now.AddDate(0, 0, i-89).Format("2006-01-02"), Uptime: -1}
	}
	days[88].Uptime, days[89].Uptime = 0.995, 1
	page := StatusPage{Title: "<script>x</script>", Overall: "partial_outage", Generated: now,
		Groups: []StatusGroup{{Name: "Web", Components: []StatusComponent{{Name: "wiki<b>", Status: "down", Since: now,
			Uptime: [4]float64{0.5, 0.9, -1, 1}, Days: days,
			Samples: []StatusSample{{Time: now.Add(-time.Minute), MS: 20, OK: true}, {Time: now, MS: 0, OK: false}}}}}},
		Incidents: []StatusIncident{{Title: "wiki is down", Started: now, Updates: []StatusUpdate{{Time: now, Status: "investigating", Message: "a <i>note</i>"}}}}}
	tests := []struct {
		name string
		page StatusPage
		want []string
	}{
		{"escaped and drawn", page, []string{"<title>&lt;script&gt;x&lt;/script&gt; · Partial outage</title>", "wiki&lt;b&gt;",
			`class="state down"`, `<svg class="days none"`, `<rect class="minor" x="528" data-u="99.50"/><rect class="ok" x="534"/>`, "1 day 50.00%", "30 days –", "90 days 100%",
			`<circle class="ok" cx="0" cy="4" r="2.5"/>`, `class="fail"`, "a &lt;i&gt;note&lt;/i&gt;", "ongoing"}},
		{"nothing public", StatusPage{Title: "S", Overall: "unknown", Generated: now}, []string{"No public checks configured yet.", "No incidents reported.", "Status unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, api := PublicStatus(NewStatusCache(func(context.Context) (StatusPage, error) { return tt.page, nil }, time.Second, nil))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			body := w.Body.String()
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, "<b>") {
				t.Error("unescaped text on the page")
			}
			w = httptest.NewRecorder()
			api.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/status", nil))
			if w.Code != 200 || !strings.Contains(w.Body.String(), `"overall":"`+tt.page.Overall+`"`) {
				t.Errorf("api: %d %s", w.Code, w.Body)
			}
		})
	}
}
