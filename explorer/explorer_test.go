package explorer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

// TestPage: the page is the shell and one script, under a policy that
// allows no inline script or style, with the query from the URL escaped.
func TestPage(t *testing.T) {
	e, err := New(time.UTC, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /admin/logs", e)
	e.RegisterStatic(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/admin/logs?q=%3Cscript%3Ealert(1)%3C/script%3E%22&since=2h", nil))
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	csp := w.Header().Get("Content-Security-Policy")
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP allows %s: %s", bad, csp)
		}
	}
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") {
		t.Errorf("CSP %s", csp)
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, `value="&lt;script&gt;alert(1)&lt;/script&gt;&#34;"`) {
		t.Errorf("query not escaped:\n%s", body)
	}
	if n := strings.Count(body, "<script"); n != 1 || !strings.Contains(body, `<script src="/admin/static/logs/explorer.js"></script>`) {
		t.Errorf("%d scripts", n)
	}
	for _, bad := range []string{" style=", "<style", " onclick", " onload", " onerror"} {
		if strings.Contains(body, bad) {
			t.Errorf("page has %q", bad)
		}
	}
	if !strings.Contains(body, `data-since="2h"`) || !strings.Contains(body, `data-tz="UTC"`) {
		t.Error("range or zone missing")
	}
	for _, f := range []string{"explorer.js", "explorer.css"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "/admin/static/logs/"+f, nil))
		if w.Code != 200 || w.Body.Len() < 1000 {
			t.Errorf("%s: %d, %d bytes", f, w.Code, w.Body.Len())
		}
	}
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/admin/static/logs/", nil))
	if w.Code != 404 {
		t.Errorf("listing: %d", w.Code)
	}
}

// TestScriptHasNoHTMLSinks: log data reaches the page only as text; the
// script never parses strings as markup.
func TestScriptHasNoHTMLSinks(t *testing.T) {
	f, err := staticFS.Open("static/explorer.js")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := io.ReadAll(f)
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\("(href|src|on)|\.href\s*=|\.src\s*=|createContextualFragment|DOMParser`)
	if m := sinks.FindAll(src, -1); len(m) > 0 {
		t.Errorf("explorer.js uses %q", m)
	}
}

func TestZoneName(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err) // time/tzdata is linked into this test
	}
	for loc, want := range map[*time.Location]string{time.UTC: "UTC", berlin: "Europe/Berlin", time.FixedZone("x", 3600): "UTC"} {
		if got := zoneName(loc); got != want {
			t.Errorf("%v: %q, want %q", loc, got, want)
		}
	}
}
