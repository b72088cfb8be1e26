package ingest_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchpost/watchpost/enroll"
	"github.com/watchpost/watchpost/ingest"
	"github.com/watchpost/watchpost/store"
)

// TestSharedTokenCannotWriteAsOthers is the report's case: the shared
// collector token naming db1 (which has its own token) or the loghost
// itself is refused, lines, metrics and reports alike; a new name is
// enrolled and the admin sees it.
func TestSharedTokenCannotWriteAsOthers(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err := enroll.New(ctx, s.DB(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hostTokens := map[string][]string{"db1": {"tok-db1"}}
	reg.Reserve([]string{"db1"}, "loghost")
	h := ingest.New(ingest.Options{Store: s, Tokens: ingest.NewTokens(hostTokens, []string{"tok-shared"}), Enroll: reg,
		Location: time.UTC})
	post := func(host, body string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer tok-shared")
		req.Header.Set("X-Watchpost-Host", host)
		req.RemoteAddr = "192.0.2.66:5000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for _, host := range []string{"db1", "DB1", "loghost"} {
		for _, body := range []string{`{"line":"forged"}`, `{"type":"report","version":"x"}`} {
			if code := post(host, body+"\n"); code != http.StatusForbidden {
				t.Errorf("shared token as %s: %d, want 403", host, code)
			}
		}
	}
	if recs, _ := s.ReadAfter(ctx, 0, 100); len(recs) != 0 {
		t.Fatalf("stored %d records under refused names", len(recs))
	}
	if code := post("web9", `{"line":"hello"}`+"\n"); code != 200 {
		t.Fatalf("a new name: %d", code)
	}
	if l := reg.List(); len(l) != 1 || l[0].Name != "web9" || l[0].FirstAddress != "192.0.2.66" {
		t.Fatalf("enrolled %+v", l)
	}
	// db1's own token still writes as db1.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader([]byte(`{"line":"mine"}`+"\n")))
	req.Header.Set("Authorization", "Bearer tok-db1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("db1's own token: %d", w.Code)
	}
}
