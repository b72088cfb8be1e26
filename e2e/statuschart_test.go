package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// chartWatch records, from before the page's own scripts run, every CSP
// violation, uncaught error, failed load and console error or warning.
const chartWatch = `window.__problems = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__problems.push("CSP " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});
window.addEventListener("error", function (e) {
  window.__problems.push(e.target && e.target !== window ? "failed to load " + (e.target.src || e.target.href) : "error " + e.message);
}, true);
window.addEventListener("unhandledrejection", function (e) { window.__problems.push("rejection " + e.reason); });
["error", "warn"].forEach(function (k) {
  var f = console[k];
  console[k] = function () { window.__problems.push("console." + k + " " + Array.prototype.join.call(arguments, " ")); return f.apply(console, arguments); };
});`

// TestStatusChart: with JavaScript, the public status page replaces each
// server-rendered response-time SVG with a dygraphs chart (vendored, from
// 'self', loaded only because the page has graphs) fed by /api/v1/status;
// hovering shows a probe's time and milliseconds, failed probes show as
// red dots, live websocket updates redraw the same charts, and the page's
// CSP (no inline script, no other origin) is never violated. With
// WATCHPOST_SCREENSHOTS=dir the page is saved as dir/status-page.png.
func TestStatusChart(t *testing.T) {
	sqlite := need(t, "sqlite3", "sqlite3")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/shop":
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		case "/search":
			time.Sleep(60 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	web := "http://" + ln.Addr().String()

	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`status_page: {title: "Example status", groups: [Websites]}
checks:
  - {name: wiki, type: http, target: "%[1]s/wiki", interval: 1s, conditions: ["status == 200"], public: true, group: Websites}
  - {name: search, type: http, target: "%[1]s/search", interval: 1s, conditions: ["status == 200"], warn_conditions: ["response_time < 30ms"], public: true, group: Websites}
  - {name: shop, type: http, target: "%[1]s/shop", interval: 1s, conditions: ["status == 200"], public: true, group: Websites}
`, web)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	defer func() {
		if t.Failed() {
			t.Logf("loghost output:\n%s", lh.out.String())
		}
	}()

	// A day of 5-minute probes, as a loghost that has run for a day has
	// them (the graph draws the last 24 h): the shop failing now and then,
	// written while the loghost runs, as bench/statuspage-wrk.sh does.
	peers.Eventually(t, 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "watchpost.db"))
		return err == nil
	})
	now := time.Now().UnixNano()
	seed := fmt.Sprintf(`WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k+1 FROM s WHERE k < 287)
INSERT OR IGNORE INTO check_samples(check_name, time, ok, degraded, duration_us)
SELECT c.name, %d - k*300000000000, CASE WHEN c.name = 'shop' AND k %% 23 = 0 THEN 0 ELSE 1 END, 0,
  c.base + abs(random()) %% c.spread
FROM s, (SELECT 'wiki' AS name, 2000 AS base, 9000 AS spread UNION ALL SELECT 'search', 40000, 30000 UNION ALL SELECT 'shop', 5000, 20000) AS c;`, now)
	if out, err := exec.Command(sqlite, filepath.Join(dir, "watchpost.db"), ".timeout 30000", seed).CombinedOutput(); err != nil {
		t.Fatalf("seed samples: %v\n%s", err, out)
	}
	// The page is rebuilt at most every few seconds.
	peers.Eventually(t, 30*time.Second, func() bool {
		resp, err := http.Get(base + "/")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Count(string(b), `<svg class="rt"`) == 3 && strings.Contains(string(b), `class="state down"`)
	})

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("status page CSP allows %s: %s", bad, csp)
		}
	}
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("status page CSP: %s", csp)
	}
	// dygraphs is loaded by status.js only: the page itself (and so its
	// static export, which drops status.js) names no other script.
	if n := strings.Count(string(page), "<script"); n != 1 || strings.Contains(string(page), "dygraph") {
		t.Errorf("the page should carry only status.js, found %d scripts", n)
	}

	b := peers.StartBrowser(t, 1000, 1100)
	b.Call("Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": chartWatch}, nil)
	b.Navigate(base + "/")
	b.WaitFor(`document.querySelectorAll("main.status figure.rtchart canvas").length > 0 &&
		[...document.querySelectorAll("main.status svg.rt")].every(s => s.classList.contains("charted") && s.nextElementSibling.matches("figure.rtchart[data-draws]"))`, 30*time.Second)
	if n := string(b.Eval(`document.querySelectorAll("main.status figure.rtchart").length`)); n != "3" {
		t.Errorf("%s charts, want 3", n)
	}
	if v := string(b.Eval(`typeof Dygraph === "function" && !Dygraph.PLUGINS.includes(Dygraph.Plugins.Legend)`)); v != "true" {
		t.Errorf("dygraphs not loaded, or with its legend plugin: %s", v)
	}
	if hidden := string(b.Eval(`[...document.querySelectorAll("svg.rt")].every(s => getComputedStyle(s).display === "none")`)); hidden != "true" {
		t.Error("the server's SVG graphs are still shown beside the charts")
	}
	var fewest int
	if err := json.Unmarshal(b.Eval(`Math.min(...[...document.querySelectorAll("figure.rtchart")].map(f => +f.dataset.drawn))`), &fewest); err != nil || fewest < 250 {
		t.Errorf("charts drawn with %d points (%v), want a day's", fewest, err)
	}

	// The shop's failed probes are red dots: the page's --err colour is on
	// its canvas, and on no other chart's.
	reds := `(function (name) {
  var art = [...document.querySelectorAll("article.component")].find(a => a.querySelector("h3").textContent === name);
  var err = getComputedStyle(document.documentElement).getPropertyValue("--err").trim();
  var want = [1, 3, 5].map(i => parseInt(err.substr(i, 2), 16)), n = 0;
  art.querySelectorAll("figure.rtchart canvas").forEach(cv => {
    var d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
    for (var i = 0; i < d.length; i += 4) {
      if (d[i+3] > 200 && Math.abs(d[i] - want[0]) < 24 && Math.abs(d[i+1] - want[1]) < 24 && Math.abs(d[i+2] - want[2]) < 24) n++;
    }
  });
  return n;
})`
	if n := string(b.Eval(reds + `("shop")`)); n == "0" {
		t.Error("no failed-probe dots on the shop's chart")
	}
	if n := string(b.Eval(reds + `("wiki")`)); n != "0" {
		t.Errorf("%s failed-probe pixels on the wiki's chart, which never failed", n)
	}

	// Hovering a chart names the probe's time and its milliseconds.
	var box struct{ X, Y, W, H float64 }
	if err := json.Unmarshal(b.Eval(`(function () { var r = document.querySelector("figure.rtchart canvas").getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; })()`), &box); err != nil {
		t.Fatal(err)
	}
	for _, dx := range []float64{0.5, 0.6} {
		b.Call("Input.dispatchMouseEvent", map[string]any{"type": "mouseMoved", "x": box.X + box.W*dx, "y": box.Y + box.H/2}, nil)
	}
	b.WaitFor(`/^\d{4}-\d\d-\d\d \d\d:\d\d UTC · [\d.]+ ms/.test(document.querySelector("figure.rtchart figcaption").textContent)`, 10*time.Second)
	t.Logf("hover: %s", b.Eval(`document.querySelector("figure.rtchart figcaption").textContent`))

	// A live update swaps in the server's new <main>: the same charts move
	// into it and are redrawn with the message's newest samples.
	b.Eval(`document.querySelectorAll("figure.rtchart").forEach(f => f.__before = +f.dataset.draws); window.__gen = document.querySelector("main.status").dataset.generated`)
	b.WaitFor(`document.querySelector("main.status").dataset.generated !== window.__gen`, 30*time.Second)
	b.WaitFor(`[...document.querySelectorAll("main.status figure.rtchart")].length === 3 &&
		[...document.querySelectorAll("main.status figure.rtchart")].every(f => f.__before && +f.dataset.draws > f.__before && f.querySelector("canvas"))`, 10*time.Second)
	if hidden := string(b.Eval(`[...document.querySelectorAll("svg.rt")].every(s => s.classList.contains("charted"))`)); hidden != "true" {
		t.Error("after a live update, server SVGs are shown again")
	}

	shots := os.Getenv("WATCHPOST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	b.Call("Input.dispatchMouseEvent", map[string]any{"type": "mouseMoved", "x": box.X + box.W*0.7, "y": box.Y + box.H/2}, nil)
	if n := b.Screenshot(filepath.Join(shots, "status-page.png")); n < 20000 {
		t.Errorf("screenshot only %d bytes", n)
	}
	if p := string(b.Eval(`window.__problems`)); p != "[]" {
		t.Errorf("console errors or CSP violations: %s", p)
	}
}
