package peers

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!DOCTYPE html><title>t</title><form method="post" action="/done"><input name="x"></form>
<script>setTimeout(function(){document.body.setAttribute("data-ready","yes")},200)</script>`))
	}))
	defer srv.Close()
	b := StartBrowser(t, 800, 600)
	b.Navigate(srv.URL + "/")
	b.WaitFor(`document.body.dataset.ready === "yes"`, 10*time.Second)
	if got := string(b.Eval(`document.title`)); got != `"t"` {
		t.Fatalf("title %s", got)
	}
	p := filepath.Join(t.TempDir(), "shot.png")
	if n := b.Screenshot(p); n < 100 {
		t.Fatalf("screenshot of %d bytes", n)
	}
	if b, _ := os.ReadFile(p); string(b[1:4]) != "PNG" {
		t.Fatal("not a PNG")
	}
}
