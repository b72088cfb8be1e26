package dashboard

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/store"
)

// restart builds the fixture's Auth and handlers anew from cfg, as a
// loghost restart does (same key, same clock).
func (f *fixture) restart(cfg AuthConfig) {
	f.t.Helper()
	f.set = metrics.NewSet()
	a, err := NewAuth(cfg, f.clock.Now, f.set, slog.New(slog.DiscardHandler))
	if err != nil {
		f.t.Fatal(err)
	}
	f.auth = a
	f.mux = http.NewServeMux()
	NewUI(a, UIDeps{}, nil).Register(f.mux)
	f.h = SecurityHeaders(f.mux)
}

// TestLogoutSurvivesRestart: a cookie copied before logout stays dead
// after the loghost restarts, because the logout is in the store.
func TestLogoutSurvivesRestart(t *testing.T) {
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := newFixture(t, UIDeps{})
	cfg := f.cfg
	cfg.Revocations = SQLRevocations{DB: s.DB()}
	f.restart(cfg)
	cookie, csrf := f.login("alice", alicePW)
	kept, _ := f.login("alice", alicePW) // another browser, still signed in
	if w := f.do("POST", "/admin/logout", "", url.Values{"csrf": {csrf}}, nil, cookie); w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	f.restart(cfg)
	if w := f.do("GET", "/admin/", "", nil, nil, cookie); w.Code != http.StatusSeeOther {
		t.Errorf("signed-out cookie after a restart: %d, want 303 to the login page", w.Code)
	}
	if w := f.do("GET", "/admin/", "", nil, nil, kept); w.Code != http.StatusOK {
		t.Errorf("the other session after a restart: %d, want 200", w.Code)
	}
	// Once the session would have expired its row goes at the next logout.
	f.clock.Advance(2 * cfg.SessionTTL)
	c2, csrf2 := f.login("alice", alicePW)
	f.do("POST", "/admin/logout", "", url.Values{"csrf": {csrf2}}, nil, c2)
	var n int
	s.DB().QueryRow(`SELECT count(*) FROM revoked_sessions`).Scan(&n)
	if n != 1 {
		t.Errorf("%d signed-out sessions kept, want 1", n)
	}
}
