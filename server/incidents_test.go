package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/uptime"
)

// TestIncidentsAPI: the list shows incidents of every source with their
// state; resolve ends a rule's incident and refuses a check's.
func TestIncidentsAPI(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	db.Exec(`INSERT INTO incidents(check_name, title, public, started) VALUES('wiki', 'wiki is down', 1, ?)`, t0.UnixNano())
	tx, _ := db.Begin()
	if _, _, err := alerting.Fire(ctx, tx, alerting.RuleAlert("critical", "oom", map[string]string{"host": "web1"}, t0, map[string]string{"Title": "oom"})); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	now := func() time.Time { return t0.Add(time.Minute) }
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/incidents", incidentsListHandler(db, func() alerting.ListOptions { return alerting.ListOptions{} }))
	mux.Handle("POST /api/v1/incidents/{id}/resolve", resolveHandler(db, now))
	do := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w
	}
	for _, c := range []struct {
		path string
		code int
	}{{"/api/v1/incidents/2/resolve", 200}, {"/api/v1/incidents/2/resolve", 404}, {"/api/v1/incidents/1/resolve", 409}, {"/api/v1/incidents/x/resolve", 400}} {
		if w := do("POST", c.path); w.Code != c.code {
			t.Errorf("%s: %d, want %d: %s", c.path, w.Code, c.code, w.Body)
		}
	}
	w := do("GET", "/api/v1/incidents")
	var list []alerting.IncidentInfo
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list) != 2 {
		t.Fatalf("list %s %v", w.Body, err)
	}
	if list[0].Source != "check" || list[0].State != "firing" || list[1].Source != "rule" || list[1].State != "resolved" || list[1].Labels["host"] != "web1" {
		t.Errorf("list %+v", list)
	}
	if w := do("GET", "/api/v1/incidents?limit=0"); w.Code != 400 {
		t.Errorf("limit=0: %d", w.Code)
	}
}

// TestIncidentsJSONShape: GET /api/v1/incidents has one documented shape:
// snake_case keys only, null for what is not known (never a zero time or
// an empty severity), a heartbeat's incident as source heartbeat, and
// the incident's page when server.public_url is set.
func TestIncidentsJSONShape(t *testing.T) {
	db := openTestDB(t)
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	db.Exec(`INSERT INTO incidents(check_name, title, public, started) VALUES('nightly-backup', 'nightly-backup is down', 0, ?)`, t0.UnixNano())
	db.Exec(`INSERT INTO incidents(check_name, title, public, started, resolved) VALUES('wiki', 'wiki is down', 1, ?, ?)`, t0.UnixNano(), t0.Add(time.Hour).UnixNano())
	opts := func() alerting.ListOptions {
		return alerting.ListOptions{Heartbeat: func(n string) bool { return n == "nightly-backup" }, PublicURL: "https://status.example.org/"}
	}
	w := httptest.NewRecorder()
	incidentsListHandler(db, opts).ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/incidents", nil))
	var raw []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil || len(raw) != 2 {
		t.Fatalf("%s %v", w.Body, err)
	}
	want := []string{"id", "source", "check", "key", "title", "public", "components", "labels", "severity", "state", "started", "resolved",
		"fired", "last_fired", "acked", "acked_by", "resolved_by", "url"}
	for _, in := range raw {
		if len(in) != len(want) {
			t.Errorf("keys %v, want %v", in, want)
		}
		for _, k := range want {
			if _, ok := in[k]; !ok {
				t.Errorf("no %q in %v", k, in)
			}
		}
		for k, v := range in {
			if strings.ToLower(k) != k || v == "0001-01-01T00:00:00Z" || v == "" {
				t.Errorf("%s = %#v", k, v)
			}
		}
	}
	hb, wiki := raw[0], raw[1]
	if hb["source"] != "heartbeat" || hb["check"] != "nightly-backup" || hb["severity"] != "critical" || hb["resolved"] != nil || hb["acked_by"] != nil ||
		hb["state"] != "firing" || hb["url"] != "https://status.example.org/admin/incidents/1" {
		t.Errorf("heartbeat incident %v", hb)
	}
	if wiki["source"] != "check" || wiki["resolved"] != "2026-11-25T04:00:00Z" || fmt.Sprint(wiki["components"]) != "[wiki]" || wiki["key"] != nil {
		t.Errorf("check incident %v", wiki)
	}
}

// TestFeedHidesIncidentCount: the public feed's entries are named by
// check and start, not by the store's id, which counts the incidents of
// private checks and rules too.
func TestFeedHidesIncidentCount(t *testing.T) {
	db := openTestDB(t)
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	for i := range 41 {
		db.Exec(`INSERT INTO incidents(check_name, title, public, started) VALUES('private-db', 'db is down', 0, ?)`, t0.Add(time.Duration(i)*time.Minute).UnixNano())
	}
	db.Exec(`INSERT INTO incidents(check_name, title, public, started) VALUES('shop', 'shop is down', 1, ?)`, t0.Add(time.Hour).UnixNano())
	cfg, err := config.Parse("t.yml", []byte("checks:\n  - {name: shop, type: tcp, target: 'localhost:1', public: true}\n  - {name: private-db, type: tcp, target: 'localhost:2'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	feedHandler(func() *config.Config { return cfg }, uptime.NewReader(db, time.UTC), nil).ServeHTTP(w, httptest.NewRequest("GET", "/feed.atom", nil))
	body := w.Body.String()
	if !strings.Contains(body, "shop is down") || strings.Contains(body, "db is down") {
		t.Fatalf("feed:\n%s", body)
	}
	if strings.Contains(body, ":42<") || !strings.Contains(body, "urn:watchpost:incident:shop:") {
		t.Errorf("entry id tells the store's incident count:\n%s", body)
	}
}
