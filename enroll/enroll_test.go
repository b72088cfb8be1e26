package enroll

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

func open(t *testing.T) (*store.Store, func() time.Time) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	return s, func() time.Time { return t0 }
}

func TestClaims(t *testing.T) {
	ctx := context.Background()
	s, now := open(t)
	r, err := New(ctx, s.DB(), now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r.Reserve([]string{"db1"}, "loghost.example.org")
	for _, c := range []struct {
		name, addr string
		want       error
	}{
		{"db1", "192.0.2.9", ErrOwnToken},
		{"DB1.", "192.0.2.9", ErrOwnToken},
		{"loghost.example.org", "192.0.2.9", ErrLoghost},
		{"loghost.example.org", "127.0.0.1", nil}, // a collector on the loghost's machine
		{"loghost.example.org", "::1", nil},
		{"loghost.example.org", "::ffff:192.0.2.9", ErrLoghost},
		{"web7", "192.0.2.7", nil},
		{"web7", "192.0.2.8", nil}, // enrolled, not pinned: any address
	} {
		if err := r.Claim(ctx, c.name, c.addr); !errors.Is(err, c.want) {
			t.Errorf("claim %s from %s: %v, want %v", c.name, c.addr, err, c.want)
		}
	}
	if _, err := r.Pin(ctx, "web7", "192.0.2.7", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := r.Claim(ctx, "web7", "192.0.2.8"); !errors.Is(err, ErrPinned) {
		t.Errorf("pinned, other address: %v", err)
	}
	if err := r.Claim(ctx, "web7", "192.0.2.7"); err != nil {
		t.Errorf("pinned, its address: %v", err)
	}
	r.Claim(ctx, "evil", "203.0.113.1")
	if _, err := r.Revoke(ctx, "evil", "alice"); err != nil {
		t.Fatal(err)
	}
	// A restart keeps all of it.
	r2, err := New(ctx, s.DB(), now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Claim(ctx, "evil", "203.0.113.1"); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked after a restart: %v", err)
	}
	if err := r2.Claim(ctx, "web7", "192.0.2.8"); !errors.Is(err, ErrPinned) {
		t.Errorf("pinned after a restart: %v", err)
	}
	list := r2.List()
	if len(list) != 2 || list[0].State == "" || list[1].ChangedBy != "alice" {
		t.Errorf("list %+v", list)
	}
	if err := r2.Forget(ctx, "evil", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := r2.Claim(ctx, "evil", "203.0.113.1"); err != nil {
		t.Errorf("forgotten, claimed again: %v", err)
	}
	if _, err := r2.Pin(ctx, "nobody", "", "alice"); !errors.Is(err, ErrUnknown) {
		t.Errorf("pin an unknown host: %v", err)
	}
}

func TestAPI(t *testing.T) {
	ctx := context.Background()
	s, now := open(t)
	r, _ := New(ctx, s.DB(), now, nil)
	r.Claim(ctx, "web7", "192.0.2.7")
	mux := http.NewServeMux()
	r.Register(mux, func(h http.Handler) http.Handler { return h })
	do := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w
	}
	if w := do("GET", "/api/v1/enrollments"); w.Code != 200 || !strings.Contains(w.Body.String(), `"host":"web7"`) || !strings.Contains(w.Body.String(), `"state":"enrolled"`) {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	if w := do("POST", "/api/v1/enrollments/web7/pin"); w.Code != 200 || !strings.Contains(w.Body.String(), `"pinned_address":"192.0.2.7"`) {
		t.Fatalf("pin: %d %s", w.Code, w.Body)
	}
	if w := do("POST", "/api/v1/enrollments/web7/pin?address=nope"); w.Code != 400 {
		t.Fatalf("pin to a bad address: %d", w.Code)
	}
	if w := do("POST", "/api/v1/enrollments/web8/revoke"); w.Code != 404 || !strings.Contains(w.Body.String(), "error") {
		t.Fatalf("revoke unknown: %d %s", w.Code, w.Body)
	}
	if w := do("DELETE", "/api/v1/enrollments/web7"); w.Code != 204 {
		t.Fatalf("forget: %d", w.Code)
	}
}
