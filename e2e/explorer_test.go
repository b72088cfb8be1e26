package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// explorerWatch records, before the page's scripts run, CSP violations,
// errors, console errors and every way a hostile line could run script
// or escape: dialogs, navigation away, a changed title.
const explorerWatch = chartWatch + `
window.__alerts = [];
["alert", "confirm", "prompt"].forEach(function (k) { window[k] = function (m) { window.__alerts.push(k + " " + m); }; });
window.open = function (u) { window.__alerts.push("open " + u); };`

// hostileLines are log lines that must stay inert text in every view:
// markup, a javascript: link, an OSC 8 hyperlink, a terminal title,
// bidi overrides, raw control characters, and ANSI colours (the only
// escapes the page keeps, as colours).
var hostileLines = []string{
	`<img src=x onerror="alert('img')"> image`,
	`<script>alert('script')</script> script`,
	`<a href="javascript:alert('href')">click me</a> link`,
	"\x1b]8;;javascript:alert('osc8')\x07osc8 link\x1b]8;;\x07 hyperlink",
	"\x1b]0;pwned title\x07 title escape",
	"bidi \u202eevil\u202c override \u2066isolate\u2069",
	"\x1b[31mred\x1b[0m \x1b[1;32mbold green\x1b[0m colours \x1b[2J\x1b[H cleared",
	"nul \x00 bell \x07 backspace \x08 del \x7f controls",
	`{"msg":"json hostile","<img src=x onerror=alert('field')>":"<svg onload=alert('value')>","level":"error"}`,
}

// explorerLoghost starts a loghost with the admin user and a signed-in
// browser, and returns them.
func explorerLoghost(t *testing.T, extra string) (*loghost, loghostConfig, string, *peers.Browser) {
	t.Helper()
	peers.Require(t, "chromium")
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), adminUser: true, extra: "timezone: UTC\n" + extra}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("loghost output:\n%.4000s", lh.out.String())
		}
	})
	b := peers.StartBrowser(t, 1400, 1000)
	b.Call("Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": explorerWatch}, nil)
	b.Navigate(base + "/admin/login")
	submitLogin(b)
	b.WaitFor(`location.pathname === "/admin/" && document.readyState === "complete"`, 20*time.Second)
	return lh, lc, base, b
}

// ingestLines posts NDJSON items for the token's host.
func ingestLines(t testing.TB, base, token string, items []map[string]any) {
	t.Helper()
	var sb strings.Builder
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	if code, ans := postIngest(t, base, token, "", sb.String()); code != 200 {
		t.Fatalf("ingest: %d %v", code, ans)
	}
}

func shotsDir(t *testing.T) string {
	if d := os.Getenv("WATCHPOST_SCREENSHOTS"); d != "" {
		return d
	}
	return t.TempDir()
}

// inert checks that nothing hostile ran or rendered as markup.
func inert(t *testing.T, b *peers.Browser, where string) {
	t.Helper()
	if p := string(b.Eval(`window.__problems`)); p != "[]" {
		t.Errorf("%s: console errors or CSP violations: %s", where, p)
	}
	if a := string(b.Eval(`window.__alerts`)); a != "[]" {
		t.Errorf("%s: hostile log data ran script: %s", where, a)
	}
	if n := string(b.Eval(`document.querySelectorAll("#list img, #list script, #list a, #list svg, #fields img, #fields a, #fields svg, #fields script, #ctxlines img, #ctxlines a, #ctxlines svg, #ctxlines script, [onerror], [onload]").length`)); n != "0" {
		t.Errorf("%s: %s elements from log data", where, n)
	}
	if title := string(b.Eval(`document.title === "Logs \u00b7 Watchpost admin"`)); title != "true" {
		t.Errorf("%s: title changed to %s", where, b.Eval(`document.title`))
	}
	if raw := string(b.Eval(`/[\u202a-\u202e\u2066-\u2069\u0000-\u0008\u001b]/.test(document.getElementById("explorer").textContent)`)); raw != "false" {
		t.Errorf("%s: bidi or control characters shown raw", where)
	}
}

// TestLogsExplorer: a search with a range, the histogram, a field
// filter from the fields panel, narrowing by dragging across the
// histogram, a line's fields and context, the keys, "copy link" with
// absolute times, and a corpus of hostile lines inert in every view.
func TestLogsExplorer(t *testing.T) {
	_, _, base, b := explorerLoghost(t, "")
	now := time.Now().UTC()
	// 90 minutes of lines from two hosts: cron runs, sshd failures (one
	// address most of all), a few errors, a few long lines.
	for _, host := range []string{"web1", "db1"} {
		var items []map[string]any
		for i := 0; i < 540; i++ {
			at := now.Add(-90 * time.Minute).Add(time.Duration(i) * 10 * time.Second)
			it := map[string]any{"time": at.Format(time.RFC3339Nano), "source": "file:/var/log/syslog", "gen": "g1", "offset": i * 100, "file": "/var/log/syslog"}
			// syslog lines, so the loghost parses program, pid, severity
			// and sshd's fields from them
			syslog := func(pri int, tag, msg string) string {
				return fmt.Sprintf("<%d>%s %s %s: %s", pri, at.Format(time.Stamp), host, tag, msg)
			}
			switch {
			case i%5 == 0:
				client := []string{"203.0.113.5", "203.0.113.5", "203.0.113.5", "198.51.100.7", "192.0.2.99"}[i/5%5]
				it["line"] = syslog(4*8+4, fmt.Sprintf("sshd[%d]", 2000+i), fmt.Sprintf("Failed password for root from %s port %d ssh2", client, 40000+i))
			case i%37 == 0:
				it["line"] = syslog(3, "kernel", fmt.Sprintf("EXT4-fs error (device sda1): disk trouble %d", i))
			case i%101 == 0:
				it["line"] = syslog(3*8+6, "app[7]", "long "+strings.Repeat("abcdefghij", 500)+" end")
			default:
				it["line"] = syslog(9*8+6, "CRON[99]", fmt.Sprintf("(root) CMD (run-parts /etc/cron.hourly) %s %d", host, i))
			}
			items = append(items, it)
		}
		if host == "web1" {
			for i, l := range hostileLines {
				items = append(items, map[string]any{"time": now.Add(-5 * time.Minute).Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano),
					"program": "evil<svg/onload=alert('program')>", "severity": 3, "line": l, "source": "file:/var/log/evil.log", "gen": "g1", "offset": i * 100, "file": "/var/log/evil.log"})
			}
		}
		ingestLines(t, base, "token-"+host, items)
	}

	// The same counts from a terminal, through the API the page uses.
	tok := filepath.Join(t.TempDir(), "admin.token")
	os.WriteFile(tok, []byte("e2e-admin-token-0123\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, errOut, code := run(t, ctx, "", "grep", "-server", base, "-token-file", tok, "-since", "2h", "-c", "program=sshd"); code != 0 || out != "216\n" {
		t.Errorf("grep -c: %d %q %s", code, out, errOut)
	}
	if out, errOut, code := run(t, ctx, "", "grep", "-server", base, "-token-file", tok, "-since", "2h", "-by", "client", "Failed password"); code != 0 ||
		out != "    132 203.0.113.5\n     42 192.0.2.99\n     42 198.51.100.7\n" {
		t.Errorf("grep -by: %d %q %s", code, out, errOut)
	}

	b.Navigate(base + "/admin/logs?since=2h")
	b.WaitFor(`document.getElementById("explorer").dataset.searched`, 30*time.Second)
	if e := string(b.Eval(`document.getElementById("xerror").hidden ? "" : document.getElementById("xerror").textContent`)); e != `""` {
		t.Fatalf("search error: %s", e)
	}
	var n int
	json.Unmarshal(b.Eval(`+document.getElementById("hist").dataset.buckets`), &n)
	if n < 60 || n > 121 {
		t.Errorf("%d histogram buckets, want 60 to 120", n)
	}
	// Every bucket is drawn, the empty ones too (the first 30 minutes
	// of the range are empty), and the bars are stacked by severity.
	if g := string(b.Eval(`document.querySelectorAll("#hist g").length`)); g != fmt.Sprint(n) {
		t.Errorf("%s bucket groups for %d buckets", g, n)
	}
	for _, cls := range []string{"s3", "s4", "s6"} {
		if string(b.Eval(`document.querySelectorAll("#hist rect.`+cls+`").length > 0`)) != "true" {
			t.Errorf("no %s bars in the histogram", cls)
		}
	}
	if !strings.Contains(string(b.Eval(`document.getElementById("histcap").textContent`)), "1,089 matching lines") {
		t.Errorf("histogram caption: %s", b.Eval(`document.getElementById("histcap").textContent`))
	}
	// Newest first: the first row is the newest line.
	first := string(b.Eval(`document.querySelector("#window .row .m").textContent`))
	if !strings.Contains(first, "cron.hourly") && !strings.Contains(first, "Failed password") {
		t.Errorf("first row: %s", first)
	}
	inert(t, b, "search")
	// Text selected in a line stays selected while the list scrolls:
	// rows on screen are kept, not redrawn.
	b.Eval(`(function () { var m = document.querySelectorAll("#window .row .m")[3]; var r = document.createRange(); r.selectNodeContents(m);
  var s = getSelection(); s.removeAllRanges(); s.addRange(r); window.__sel = s.toString(); document.getElementById("list").scrollTop += 40; return true; })()`)
	time.Sleep(300 * time.Millisecond)
	if kept := string(b.Eval(`getSelection().toString() === window.__sel && window.__sel.length > 0 && document.getElementById("window").contains(getSelection().anchorNode)`)); kept != "true" {
		t.Error("scrolling lost the reader's selection")
	}
	b.Eval(`getSelection().removeAllRanges(); document.getElementById("list").scrollTop = 0; true`)
	shots := shotsDir(t)
	b.Screenshot(filepath.Join(shots, "logs-explorer.png"))

	// The fields panel: the client field lists the sshd addresses; a
	// click filters for the most frequent one, a second filters it out.
	b.WaitFor(`[...document.querySelectorAll("#fields h3")].some(h => h.textContent.startsWith("client"))`, 10*time.Second)
	clientBtn := `[...document.querySelectorAll("#fields h3")].find(h => h.textContent.startsWith("client")).nextElementSibling.querySelector("button.v")`
	if v := string(b.Eval(clientBtn + `.textContent`)); v != `"203.0.113.5"` {
		t.Errorf("top client %s", v)
	}
	b.Eval(`window.__gen = document.getElementById("explorer").dataset.searched; ` + clientBtn + `.click(); true`)
	b.WaitFor(`document.getElementById("explorer").dataset.searched !== window.__gen`, 20*time.Second)
	if q := string(b.Eval(`new URLSearchParams(location.search).get("q")`)); q != `"client=203.0.113.5"` {
		t.Errorf("query after the click: %s", q)
	}
	if c := string(b.Eval(`[...document.querySelectorAll("#window .row .m")].every(m => m.textContent.includes("from 203.0.113.5 "))`)); c != "true" {
		t.Error("rows after filtering for the client hold other lines")
	}
	if !strings.Contains(string(b.Eval(`document.getElementById("histcap").textContent`)), "132 matching lines") {
		t.Errorf("after the filter: %s", b.Eval(`document.getElementById("histcap").textContent`))
	}
	b.Eval(`window.__gen = document.getElementById("explorer").dataset.searched; ` + clientBtn + `.click(); true`)
	b.WaitFor(`document.getElementById("explorer").dataset.searched !== window.__gen`, 20*time.Second)
	if q := string(b.Eval(`new URLSearchParams(location.search).get("q")`)); q != `"-client=203.0.113.5"` {
		t.Errorf("query after the second click: %s", q)
	}

	// Dragging across the histogram narrows the range to absolute times.
	b.Navigate(base + "/admin/logs?since=2h&q=program%3Dsshd")
	b.WaitFor(`document.getElementById("explorer").dataset.searched`, 30*time.Second)
	var box struct{ X, Y, W, H float64 }
	json.Unmarshal(b.Eval(`(function () { var r = document.getElementById("hist").getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; })()`), &box)
	b.Eval(`window.__gen = document.getElementById("explorer").dataset.searched; true`)
	b.Call("Input.dispatchMouseEvent", map[string]any{"type": "mousePressed", "x": box.X + box.W*0.6, "y": box.Y + box.H/2, "button": "left", "clickCount": 1}, nil)
	b.Call("Input.dispatchMouseEvent", map[string]any{"type": "mouseMoved", "x": box.X + box.W*0.7, "y": box.Y + box.H/2, "button": "left"}, nil)
	b.Call("Input.dispatchMouseEvent", map[string]any{"type": "mouseMoved", "x": box.X + box.W*0.8, "y": box.Y + box.H/2, "button": "left"}, nil)
	b.Call("Input.dispatchMouseEvent", map[string]any{"type": "mouseReleased", "x": box.X + box.W*0.8, "y": box.Y + box.H/2, "button": "left", "clickCount": 1}, nil)
	b.WaitFor(`document.getElementById("explorer").dataset.searched !== window.__gen`, 20*time.Second)
	var loc struct{ Since, Until string }
	json.Unmarshal(b.Eval(`(function () { var p = new URLSearchParams(location.search); return {Since: p.get("since"), Until: p.get("until")}; })()`), &loc)
	since, err1 := time.Parse(time.RFC3339Nano, loc.Since)
	until, err2 := time.Parse(time.RFC3339Nano, loc.Until)
	if err1 != nil || err2 != nil || until.Sub(since) < 20*time.Minute || until.Sub(since) > 28*time.Minute {
		t.Fatalf("range after dragging: %+v", loc)
	}
	var times []string
	json.Unmarshal(b.Eval(`[...document.querySelectorAll("#window .row .t")].map(x => x.textContent)`), &times)
	for _, s := range times {
		at, err := time.Parse("2006-01-02 15:04:05.000", s)
		if err != nil || at.Before(since.Truncate(time.Millisecond)) || !at.Before(until) {
			t.Fatalf("row at %s outside %s – %s", s, since, until)
		}
	}
	// "Copy link" writes the absolute range.
	b.Eval(`document.getElementById("copylink").click(); true`)
	link := string(b.Eval(`document.getElementById("linkout").value`))
	if !strings.Contains(link, "since="+url.QueryEscape(loc.Since)) || !strings.Contains(link, "q=program%3Dsshd") {
		t.Errorf("copied link %s", link)
	}

	// The hostile lines: opened, folded, in context; keys.
	b.Navigate(base + "/admin/logs?since=10m&q=" + url.QueryEscape("file=/var/log/evil.log"))
	b.WaitFor(`document.getElementById("explorer").dataset.searched`, 30*time.Second)
	if rows := string(b.Eval(`+document.getElementById("list").dataset.rows`)); rows != fmt.Sprint(len(hostileLines)) {
		t.Fatalf("%s hostile rows, want %d", rows, len(hostileLines))
	}
	// Every row open: details show every field, names and values hostile.
	b.Eval(`document.getElementById("list").focus(); true`)
	for i := range hostileLines {
		if i > 0 {
			key(b, "j")
		}
		key(b, "Enter")
	}
	b.WaitFor(`document.querySelectorAll("#window .det").length === `+fmt.Sprint(len(hostileLines)), 10*time.Second)
	det := string(b.Eval(`document.getElementById("window").textContent`))
	for _, want := range []string{`<img src=x onerror=alert('field')>`, `<svg onload=alert('value')>`, `<script>alert('script')</script>`, "evil<svg/onload=alert('program')>", "osc8 link hyperlink", "U+202E"} {
		if !strings.Contains(det, want) {
			t.Errorf("details lack the text %q", want)
		}
	}
	if c := string(b.Eval(`document.querySelectorAll("#window .ansi-31, #window .ansi-b.ansi-32").length >= 2`)); c != "true" {
		t.Error("ANSI colours are not shown as colours")
	}
	inert(t, b, "details")
	b.Screenshot(filepath.Join(shots, "logs-hostile.png"))
	key(b, "g")
	key(b, "c")
	b.WaitFor(`document.getElementById("ctx").open && document.querySelectorAll("#ctxlines .row").length > 0`, 20*time.Second)
	if a := string(b.Eval(`document.querySelectorAll("#ctxlines .row.anchor").length`)); a != "1" {
		t.Errorf("%s highlighted lines in the context", a)
	}
	inert(t, b, "context of a hostile line")
	b.Eval(`document.getElementById("ctx").close(); true`)
	// y copies the line as text, escapes dropped.
	key(b, "y")
	b.WaitFor(`document.getElementById("list").dataset.copied !== undefined`, 5*time.Second)

	// Context from the middle of a busy source: the line highlighted
	// with the lines around it from the same host and file only, more
	// above on request.
	b.Navigate(base + "/admin/logs?since=2h&q=" + url.QueryEscape(`host=db1 "disk trouble 259"`))
	b.WaitFor(`document.getElementById("explorer").dataset.searched`, 30*time.Second)
	b.Eval(`document.getElementById("list").focus(); true`)
	key(b, "c")
	b.WaitFor(`document.getElementById("ctx").open && document.querySelector("#ctxlines .anchor")`, 20*time.Second)
	var ctxRows []string
	json.Unmarshal(b.Eval(`[...document.querySelectorAll("#ctxlines .row .m")].map(x => x.textContent)`), &ctxRows)
	if len(ctxRows) != 41 || !strings.Contains(string(b.Eval(`document.querySelector("#ctxlines .anchor").textContent`)), "disk trouble 259") {
		t.Fatalf("context: %d rows, anchor %s", len(ctxRows), b.Eval(`document.querySelector("#ctxlines .anchor").textContent`))
	}
	for i, r := range ctxRows {
		if strings.Contains(r, "web1") || strings.Contains(r, "evil") {
			t.Errorf("context row %d from another source: %s", i, r)
		}
	}
	if !strings.Contains(ctxRows[19], "db1 258") || !strings.Contains(ctxRows[21], "port 40260") {
		t.Errorf("context around the line: %q / %q", ctxRows[19], ctxRows[21])
	}
	b.Eval(`document.getElementById("ctxup").click(); true`)
	b.WaitFor(`document.querySelectorAll("#ctxlines .row").length === 61`, 20*time.Second)
	b.Screenshot(filepath.Join(shots, "logs-context.png"))
	b.Eval(`document.getElementById("ctx").close(); true`)
	// e jumps to the next error; ? opens the help.
	key(b, "e")
	key(b, "?")
	b.WaitFor(`document.getElementById("help").open`, 5*time.Second)
	inert(t, b, "end")
}

// key presses one key in the page.
func key(b *peers.Browser, k string) {
	code := map[string]string{"Enter": "\r", " ": " "}
	text, ok := code[k]
	if !ok {
		text = k
	}
	b.Call("Input.dispatchKeyEvent", map[string]any{"type": "keyDown", "key": k, "text": text}, nil)
	b.Call("Input.dispatchKeyEvent", map[string]any{"type": "keyUp", "key": k}, nil)
}

// TestLogsLiveTail: the live tail receives 5,000 lines/s
// (WATCHPOST_TAIL_SECONDS, default 10; bench/explorer-tail.sh runs a
// minute) while the reader scrolls up: the tail pauses, says how many
// new lines wait, and the lines on screen do not move; the page's memory
// and DOM stay bounded. Then the loghost restarts: the page reconnects
// and resumes from the last line it saw, and a page over the per-user
// limit of tails is told so.
func TestLogsLiveTail(t *testing.T) {
	lh, lc, base, b := explorerLoghost(t, "")
	seconds := 10
	if s := os.Getenv("WATCHPOST_TAIL_SECONDS"); s != "" {
		fmt.Sscan(s, &seconds)
	}
	b.Navigate(base + "/admin/logs?live=1&q=" + url.QueryEscape("-nomatch"))
	b.WaitFor(`document.getElementById("explorer").dataset.liveState === "open"`, 30*time.Second)

	halt := sendTail(t, base)
	defer halt()
	b.WaitFor(`+document.getElementById("list").dataset.rows > 2000`, 30*time.Second)
	if p := string(b.Eval(`document.getElementById("explorer").dataset.paused`)); p != `"false"` {
		t.Fatalf("paused before scrolling: %s", p)
	}
	// Following: the newest line is on screen.
	// The reader scrolls up.
	b.Eval(`(function () { var l = document.getElementById("list"); l.scrollTop = l.scrollTop - 600; return true; })()`)
	b.WaitFor(`document.getElementById("explorer").dataset.paused === "true"`, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	anchor := func() string {
		return string(b.Eval(`(function () { var l = document.getElementById("list"), r = l.getBoundingClientRect();
  var el = document.elementFromPoint(r.left + 300, r.top + 40); var row = el && el.closest(".row"); return l.scrollTop + "|" + (row ? row.textContent : ""); })()`))
	}
	before := anchor()
	var heap []float64
	var nodes []int
	measure := func() {
		var h struct {
			UsedSize float64 `json:"usedSize"`
		}
		b.Call("Runtime.getHeapUsage", nil, &h)
		var n int
		json.Unmarshal(b.Eval(`document.getElementsByTagName("*").length`), &n)
		heap = append(heap, h.UsedSize)
		nodes = append(nodes, n)
	}
	measure()
	var pending []int
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	for time.Now().Before(end) {
		time.Sleep(time.Second)
		var p int
		json.Unmarshal(b.Eval(`+document.getElementById("explorer").dataset.pending`), &p)
		pending = append(pending, p)
		measure()
		if a := anchor(); a != before {
			t.Fatalf("the viewport moved while paused: %s, then %s", before, a)
		}
	}
	shots := shotsDir(t)
	b.Screenshot(filepath.Join(shots, "logs-live.png"))
	total := halt()
	bar := string(b.Eval(`document.getElementById("resume").textContent`))
	if !strings.Contains(bar, "Paused") || !strings.Contains(bar, "new lines") {
		t.Errorf("pause bar: %s", bar)
	}
	if len(pending) < 2 || pending[len(pending)-1] <= pending[0] {
		t.Errorf("the count of waiting lines did not grow: %v", pending)
	}
	maxHeap, maxNodes := 0.0, 0
	for i := range heap {
		maxHeap = max(maxHeap, heap[i])
		maxNodes = max(maxNodes, nodes[i])
	}
	t.Logf("%d lines sent in %d s; waiting while paused: %v; page JS heap %.1f–%.1f MB; DOM elements at most %d",
		total, seconds, pending, heap[0]/1e6, maxHeap/1e6, maxNodes)
	if maxHeap > 150e6 || maxNodes > 5000 {
		t.Errorf("page not bounded: JS heap %.0f MB, %d elements", maxHeap/1e6, maxNodes)
	}
	// G resumes: the newest lines show, the rows kept stay bounded.
	b.Eval(`document.getElementById("list").focus(); true`)
	key(b, "G")
	b.WaitFor(`document.getElementById("explorer").dataset.paused === "false"`, 10*time.Second)
	var rows int
	json.Unmarshal(b.Eval(`+document.getElementById("list").dataset.rows`), &rows)
	if rows > 10000 {
		t.Errorf("%d rows kept", rows)
	}
	b.WaitFor(`(function () { var l = document.getElementById("list"); return l.scrollTop + l.clientHeight >= l.scrollHeight - 30; })()`, 10*time.Second)
	b.WaitFor(fmt.Sprintf(`[...document.querySelectorAll("#window .row .m")].pop().textContent.startsWith("tail line %07d ")`, total-1), 20*time.Second)
	// More came while paused than the page holds: a row above the kept
	// ones says how many were skipped (the oldest rows kept begin with it).
	var skippedPaused int
	json.Unmarshal(b.Eval(`+document.getElementById("explorer").dataset.skippedPaused`), &skippedPaused)
	if want := pending[len(pending)-1] - 10000; skippedPaused < want {
		t.Errorf("%d lines said skipped while paused, want at least %d", skippedPaused, want)
	}

	// The loghost restarts; lines stored while the page is away come
	// after the reconnect, none twice.
	lh.stop()
	b.WaitFor(`document.getElementById("explorer").dataset.liveState === "reconnecting"`, 30*time.Second)
	lh2 := startLoghost(t, "-config", filepath.Join(lc.dir, "watchpost.yml"))
	lh2.waitReady(base)
	after := []map[string]any{{"line": "after restart one"}}
	for _, l := range hostileLines {
		after = append(after, map[string]any{"line": l, "program": "evil<svg/onload=alert('program')>"})
	}
	after = append(after, map[string]any{"line": "after restart two"})
	ingestLines(t, base, "token-web1", after)
	b.WaitFor(`document.getElementById("explorer").dataset.liveState === "open"`, 60*time.Second)
	b.WaitFor(`document.getElementById("window").textContent.includes("after restart two")`, 30*time.Second)
	if n := string(b.Eval(`[...document.querySelectorAll("#window .row .m")].filter(m => m.textContent === "after restart one").length`)); n != "1" {
		t.Errorf("%s copies of a line sent while the page reconnected", n)
	}
	// The hostile lines arrived live: open them all.
	b.Eval(`document.getElementById("list").focus(); true`)
	for i := 0; i <= len(hostileLines); i++ {
		key(b, "k")
		key(b, "Enter")
	}
	inert(t, b, "live")

	// The per-user limit of tails: a page with 8 more tails open is told.
	b.Eval(`document.getElementById("live").click(); true`)
	b.WaitFor(`document.getElementById("explorer").dataset.liveState === "off"`, 10*time.Second)
	b.Eval(`window.__extra = []; for (var i = 0; i < 8; i++) window.__extra.push(new WebSocket("ws://" + location.host + "/api/v1/logs/tail?batch=1")); true`)
	b.WaitFor(`window.__extra.every(w => w.readyState === 1)`, 20*time.Second)
	b.Eval(`document.getElementById("live").click(); true`)
	b.WaitFor(`document.getElementById("explorer").dataset.liveState === "refused"`, 30*time.Second)
	if s := string(b.Eval(`document.getElementById("status").textContent`)); !strings.Contains(s, "live tails open, the limit per user") {
		t.Errorf("refused tail says %s", s)
	}
	b.Eval(`window.__extra.forEach(w => w.close()); true`)
}

// sendTail ships 5,000 lines/s in batches of 1,250 every 250 ms, as a
// busy collector does, until halt, which returns how many were sent.
func sendTail(t *testing.T, base string) (halt func() int) {
	const rate, batch = 5000, 1250
	stop := make(chan struct{})
	sent := make(chan int, 1)
	var once sync.Once
	total := 0
	halt = func() int {
		once.Do(func() { close(stop); total = <-sent })
		return total
	}
	go func() {
		n := 0
		tick := time.NewTicker(time.Second * batch / rate)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sent <- n
				return
			case <-tick.C:
			}
			var sb strings.Builder
			stamp := time.Now().UTC().Format(time.Stamp)
			for i := 0; i < batch; i++ {
				// syslog lines of a few programs and severities
				pri, tag, msg := 4*8+6, "sshd[4242]", fmt.Sprintf("Accepted publickey for deploy from 192.0.2.%d port %d ssh2", n%250, 1024+n%60000)
				switch {
				case n%10 == 3:
					pri, msg = 4*8+4, fmt.Sprintf("Failed password for root from 203.0.113.%d port %d ssh2", n%7, 1024+n%60000)
				case n%97 == 5:
					pri, tag, msg = 3, "kernel", fmt.Sprintf("nvme0n1: I/O error, dev nvme0n1, sector %d", n*8)
				case n%3 == 0:
					pri, tag, msg = 3*8+6, "nginx[812]", fmt.Sprintf("GET /api/items/%d 200", n%1000)
				}
				fmt.Fprintf(&sb, `{"line":"<%d>%s web1 %s: tail line %07d %s"}`+"\n", pri, stamp, tag, n, msg)
				n++
			}
			if code, ans := postIngestQuiet(base, "token-web1", sb.String()); code != 200 {
				t.Errorf("ingest answered %d %s", code, ans)
			}
		}
	}()
	return halt
}

// TestLogsLiveTailSlowPage: a page that stops reading (its script held
// in the debugger) does not hold the loghost's lines up; when it reads
// again it is told how many it missed.
func TestLogsLiveTailSlowPage(t *testing.T) {
	_, _, base, b := explorerLoghost(t, "")
	b.Navigate(base + "/admin/logs?live=1&q=" + url.QueryEscape("-nomatch"))
	b.WaitFor(`document.getElementById("explorer").dataset.liveState === "open"`, 30*time.Second)
	halt := sendTail(t, base)
	defer halt()
	b.WaitFor(`+document.getElementById("list").dataset.rows > 2000`, 30*time.Second)
	b.Call("Debugger.enable", nil, nil)
	b.Call("Debugger.pause", nil, nil)
	time.Sleep(20 * time.Second)
	b.Call("Debugger.resume", nil, nil)
	b.WaitFor(`+document.getElementById("explorer").dataset.skippedBehind > 0`, 30*time.Second)
	// The ingest kept its pace meanwhile (sendTail fails the test on an
	// answer other than 200).
	t.Logf("%d lines sent; the page was told %s were skipped", halt(), b.Eval(`document.getElementById("explorer").dataset.skippedBehind`))
}

// postIngestQuiet posts a batch from a goroutine (no t.Fatal there).
func postIngestQuiet(base, token, body string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/ingest", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, string(b)
}
