package webstats

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/watchpost/watchpost/internal/peers"
)

// TestHTMLEscapesLogText: URLs, referrers and agents are the client's
// words; none reaches the page as markup.
func TestHTMLEscapesLogText(t *testing.T) {
	a := New(Options{})
	r := req("2026-10-05T10:00:00Z", "192.0.2.1", `/<script>alert(1)</script>.html`, 404, firefox)
	r.Referer = `https://evil.example/"><img src=x onerror=alert(2)>`
	a.AddRequest("<b>site</b>", r)
	r2 := req("2026-10-05T10:00:01Z", "192.0.2.1", `/ok"><svg onload=alert(3)>`, 200, firefox)
	r2.Referer = `https://evil.example/"><img src=x onerror=alert(4)>`
	a.AddRequest("<b>site</b>", r2)
	var b bytes.Buffer
	if err := WriteHTML(&b, []*Report{a.Report("<b>site</b>", 2026, 10)}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script>alert", "<img src=x", "<svg onload", "<b>site"} {
		if strings.Contains(page, bad) {
			t.Errorf("page carries %q unescaped", bad)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "src=\"http") || strings.Contains(page, "<link") {
		t.Error("page has a script or loads a resource")
	}
	var text bytes.Buffer
	r3 := req("2026-10-05T10:00:02Z", "192.0.2.1", "/a\x1b[31mred\tx", 404, firefox)
	a.AddRequest("<b>site</b>", r3)
	WriteText(&text, []*Report{a.Report("<b>site</b>", 2026, 10)})
	if strings.Contains(text.String(), "\x1b") {
		t.Error("text report carries a terminal escape")
	}
}

// TestHTMLInChromium renders the fixture's report in headless Chromium:
// the screenshot is a real picture and the DOM shows the totals.
func TestHTMLInChromium(t *testing.T) {
	bins := peers.Require(t, "chromium")
	dir := t.TempDir()
	path, lines := writeFixture(t, dir, fixtureConfig)
	html := filepath.Join(dir, "report.html")
	var errb bytes.Buffer
	if code := Main(context.Background(), []string{"-site", fixtureSite, "-format", "html", "-o", html, path}, &bytes.Buffer{}, &errb); code != 0 {
		t.Fatalf("stats: %d %s", code, errb.String())
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, external := range []string{"<script", "<link", " src=", "url(", "@import"} { // self-contained
		if bytes.Contains(page, []byte(external)) {
			t.Errorf("the report loads something: %q", external)
		}
	}
	r := aggregate(lines, Options{}).Report(fixtureSite, 2026, 9)
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	png := filepath.Join(dir, "shot.png")
	cmd := exec.Command(bins["chromium"], append(flags, "--screenshot="+png, "--window-size=1280,2400", "file://"+html)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium screenshot: %v\n%s", err, out)
	}
	st, err := os.Stat(png)
	if err != nil || st.Size() < 30_000 {
		t.Fatalf("screenshot missing or blank: %v %v", st, err)
	}
	if dst := os.Getenv("WEBSTATS_SCREENSHOT"); dst != "" { // to look at it
		b, _ := os.ReadFile(png)
		os.WriteFile(dst, b, 0o644)
	}
	dom, err := exec.Command(bins["chromium"], append(flags, "--dump-dom", "file://"+html)...).Output()
	if err != nil {
		t.Fatalf("chromium dump-dom: %v", err)
	}
	for _, want := range []string{
		"Web statistics for www.example.com — 2026-09",
		`<td id="unique">` + itoa(r.Totals.Unique) + "</td>",
		`<td id="visits">` + itoa(r.Totals.Visits) + "</td>",
		`<td id="pages">` + itoa(r.Totals.Pages) + "</td>",
		`<td id="hits">` + itoa(r.Totals.Hits) + "</td>",
		"Googlebot", "AhrefsBot", "<rect ",
	} {
		if !strings.Contains(string(dom), want) {
			t.Errorf("rendered page lacks %s", want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
