package server

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/uptime"
)

// The status page shows its times in the configured zone, with the
// zone's name, as the monthly report does; it used to show UTC.
func TestStatusPageInConfiguredZone(t *testing.T) {
	db := openTestDB(t)
	cfg, err := config.Parse("x.yml", []byte("timezone: Asia/Tokyo\nchecks:\n  - {name: web, type: tcp, target: 'localhost:1', public: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 7, 17, 0, 0, time.UTC)
	tr := uptime.New(db, uptime.Config{Location: cfg.Location()})
	for i := range 3 {
		if _, err := tr.Observe(context.Background(), uptime.Observation{Check: "web", Time: at.Add(time.Duration(i-3) * time.Minute), OK: false}); err != nil {
			t.Fatal(err)
		}
	}
	src := statusSource(func() *config.Config { return cfg }, uptime.NewReader(db, cfg.Location()), func() time.Time { return at }, nil)
	page, err := src(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if page.Generated.Location().String() != "Asia/Tokyo" {
		t.Fatalf("generated in %s", page.Generated.Location())
	}
	cache := dashboard.NewStatusCache(src, time.Minute, nil)
	html, _ := dashboard.PublicStatus(cache)
	rec := httptest.NewRecorder()
	html.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body, _ := io.ReadAll(rec.Body)
	// 07:17 UTC is 16:17 in Tokyo.
	if !strings.Contains(string(body), "2026-12-07 16:17 JST") || strings.Contains(string(body), " UTC") {
		t.Fatalf("status page times not in Asia/Tokyo:\n%s", body)
	}
}
