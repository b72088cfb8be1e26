package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// TestReportMonthlyCLI: `watchpost report monthly` reads a running
// loghost's store read-only and prints the month's uptime per check, as
// text and as escaped HTML.
func TestReportMonthlyCLI(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer web.Close()
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`timezone: UTC
checks:
  - {name: "wiki <main>", type: http, target: "%s/", interval: 1s, conditions: ["status == 200"], public: true}
`, web.URL)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	peers.Eventually(t, 20*time.Second, func() bool { return componentStatus(statusOf(t, base), "wiki <main>") == "up" })
	time.Sleep(2 * time.Second)
	month := time.Now().UTC().Format("2006-01")
	out, errOut, rc := runCmd(t, "report", "monthly", "-config", cfg, "-month", month)
	if rc != 0 || !strings.Contains(out, "wiki <main>") || !strings.Contains(out, month[:4]) {
		t.Fatalf("report monthly: %d\n%s\n%s", rc, out, errOut)
	}
	html, errOut, rc := runCmd(t, "report", "monthly", "-config", cfg, "-month", month, "-format", "html")
	if rc != 0 || strings.Contains(html, "wiki <main>") || !strings.Contains(html, "wiki &lt;main&gt;") {
		t.Fatalf("report monthly -format html: %d %s\n%.400s", rc, errOut, html)
	}
	if _, _, rc := runCmd(t, "report", "monthly", "-config", cfg, "-month", "2026-13"); rc != 2 {
		t.Errorf("a bad month should be a usage error (2), got %d", rc)
	}
}

func statusOf(t *testing.T, base string) map[string]any {
	t.Helper()
	var v map[string]any
	resp, err := http.Get(base + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&v)
	return v
}

// TestStatusExport: `watchpost status export` writes the public page as
// static files beside a running loghost: public checks only, relative
// links, no live-update script, the JSON, the feed and the badges.
func TestStatusExport(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer web.Close()
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`status_page: {title: "Example status"}
checks:
  - {name: wiki, type: http, target: "%s/", interval: 1s, conditions: ["status == 200"], public: true}
  - {name: private-db, type: http, target: "%s/db", interval: 1s, conditions: ["status == 200"]}
`, web.URL, web.URL)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	peers.Eventually(t, 20*time.Second, func() bool { return componentStatus(statusOf(t, base), "wiki") == "up" })
	out := filepath.Join(dir, "site")
	if o, e, rc := runCmd(t, "status", "export", "-config", cfg, out); rc != 0 {
		t.Fatalf("status export: %d %s %s", rc, o, e)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	page := read("index.html")
	if !strings.Contains(page, "wiki") || strings.Contains(page, "private-db") || strings.Contains(page, "/admin/") || strings.Contains(page, "<script") {
		t.Errorf("exported page:\n%.600s", page)
	}
	if j := read("status.json"); !strings.Contains(j, `"wiki"`) || strings.Contains(j, "private-db") {
		t.Errorf("status.json: %.300s", j)
	}
	if !strings.Contains(read("badge/wiki.svg"), "<svg") || !strings.Contains(read("feed.atom"), "<feed") || read("style.css") == "" {
		t.Error("badge, feed or stylesheet missing")
	}
	if _, err := os.Stat(filepath.Join(out, "badge", "private-db.svg")); err == nil {
		t.Error("a private check's badge was exported")
	}
}

// TestHeartbeatFedByRuleAndCheck: a backup job that only writes a log
// line, and a cmd check verifying a backup, both feed heartbeats: the
// rule's alert labelled heartbeat=NAME pings it (heartbeat_fail=NAME
// fails it), the check's results ping its `heartbeat`.
func TestHeartbeatFedByRuleAndCheck(t *testing.T) {
	dir := t.TempDir()
	ruleFile := filepath.Join(dir, "backup.conf")
	os.WriteFile(ruleFile, []byte(`'backup: finished OK' - - - 0 alert info "backup ok" heartbeat=nightly
'backup: FAILED' - - - 0 alert critical "backup failed" heartbeat_fail=nightly
`), 0o600)
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`rules:
  - file: %s
heartbeats:
  - {name: nightly, id: 11111111-2222-3333-4444-555555555555, period: 24h, grace: 1h, public: true}
  - {name: verify, id: 66666666-2222-3333-4444-555555555555, period: 24h, grace: 1h, public: true}
checks:
  - {name: restic-check, type: cmd, target: "/bin/true", interval: 1s, heartbeat: verify}
`, ruleFile)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	send := func(offset int, line string) {
		body := fmt.Sprintf(`{"source":"file:/var/log/backup.log","gen":"g","offset":%d,"line":%q}`+"\n", offset, line)
		if code, m := postIngest(t, base, "token-web1", "", body); code != 200 {
			t.Fatalf("ingest %d %v", code, m)
		}
	}
	state := func(name string) string { return componentStatus(statusOf(t, base), name) }
	peers.Eventually(t, 20*time.Second, func() bool { return state("verify") == "up" })
	send(0, "Nov 25 03:10:00 web1 backup: finished OK in 512s")
	peers.Eventually(t, 20*time.Second, func() bool { return state("nightly") == "up" })
	send(100, "Nov 26 03:10:00 web1 backup: FAILED: repository locked")
	peers.Eventually(t, 20*time.Second, func() bool { return state("nightly") == "down" })
	if t.Failed() {
		t.Log(lh.out.String())
	}
}
