package dashboard

import (
	"bytes"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/watchpost/watchpost/query"
)

// The search box's example must be a query that finds what it says: it
// once read host:web1 program:sshd, two words no line contains.
func TestSearchPlaceholderIsAQuery(t *testing.T) {
	b, err := templateFS.ReadFile("templates/layout.html")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`id="q"[^>]*placeholder="([^"]*)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no search placeholder")
	}
	q, err := query.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		t.Fatalf("placeholder %q: %v", m[1], err)
	}
	fields := 0
	for _, term := range q.Terms {
		if term.Field != "" {
			fields++
		}
	}
	if fields < 2 {
		t.Fatalf("placeholder %q has %d field terms (%s)", m[1], fields, q)
	}
}

// Browsers ask every site for /favicon.ico; it was a 404.
func TestFavicon(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /favicon.ico", Favicon())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/favicon.ico", nil))
	b := rec.Body.Bytes()
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/x-icon" || len(b) < 22 || !bytes.Equal(b[:4], []byte{0, 0, 1, 0}) {
		t.Fatalf("%d %q %d bytes", rec.Code, rec.Header().Get("Content-Type"), len(b))
	}
}
