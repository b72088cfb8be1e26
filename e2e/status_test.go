package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestStatusPage: real probes against a local web server drive the public
// status page; a service that fails is confirmed down after two probes
// and opens a public incident; a private check never shows; the page
// renders in real headless Chromium without JavaScript.
func TestStatusPage(t *testing.T) {
	chromium := need(t, "chromium", "chromium")
	var failing atomic.Bool
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.URL.Path == "/shop" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	web := "http://" + ln.Addr().String()

	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`status_page: {title: "Example <Org> status", groups: [Websites]}
checks:
  - {name: wiki, type: http, target: "%s/wiki", interval: 1s, conditions: ["status == 200"], public: true, group: Websites}
  - {name: shop, type: http, target: "%s/shop", interval: 1s, conditions: ["status == 200"], public: true, group: Websites}
  - {name: private-db, type: tcp, target: "%s", interval: 1s}
heartbeats:
  - {name: nightly-backup, id: 5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42, period: 24h, grace: 2h, public: true, group: Backups}
`, web, web, ln.Addr())}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)

	status := func() map[string]any { return statusOf(t, base) }
	waitOverall := func(want string) map[string]any {
		var v map[string]any
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if v = status(); v["overall"] == want {
				return v
			}
		}
		t.Fatalf("overall never %q: %v\n%s", want, v, lh.out.String())
		return nil
	}
	for deadline := time.Now().Add(20 * time.Second); componentStatus(status(), "wiki") != "up" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	waitOverall("operational")
	// The backup job reports in; a wrong id is a 404.
	for path, want := range map[string]int{"/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42": 200, "/ping/not-the-id": 404} {
		resp, err := http.Post(base+path, "text/plain", strings.NewReader("backup ok"))
		if err != nil || resp.StatusCode != want {
			t.Fatalf("POST %s: %v %v, want %d", path, err, resp.StatusCode, want)
		}
		resp.Body.Close()
	}
	// The public page is built at most every 5 s, for the crowd.
	for deadline := time.Now().Add(15 * time.Second); componentStatus(status(), "nightly-backup") != "up"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("heartbeat is %q on the status page, want up", componentStatus(status(), "nightly-backup"))
		}
	}
	failing.Store(true)
	v := waitOverall("partial_outage")
	raw, _ := json.Marshal(v)
	if strings.Contains(string(raw), "private-db") {
		t.Fatalf("a private check is on the public status: %s", raw)
	}
	if ins, _ := v["incidents"].([]any); len(ins) != 1 || !strings.Contains(string(raw), "shop is down") {
		t.Fatalf("incidents: %s", raw)
	}

	// The page needs no JavaScript: it has none. (Chromium's --dump-dom
	// itself needs script enabled, so the browser runs with defaults.)
	if resp, err := http.Get(base + "/"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if n := strings.Count(string(b), "<script"); n != 1 || !strings.Contains(string(b), `<script src="/admin/static/status.js" defer></script>`) {
			t.Errorf("the page should carry only its external live-update script, found %d scripts", n)
		}
	}
	out, err := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", base+"/").Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, want := range []string{"<title>Example &lt;Org&gt; status · Partial outage</title>", `class="state down"`, `class="state up"`,
		"shop is down", `aria-label="Daily uptime of wiki, last 90 days"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(dom, "private-db") || strings.Contains(dom, "<Org>") {
		t.Errorf("page shows a private check or unescaped text")
	}
	if n := strings.Count(dom, "<rect "); n != 270 {
		t.Errorf("%d day bars, want 3×90", n)
	}
	// The feed, the badges and the admin's incident updates.
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/feed.atom", ""); code != 200 || !strings.Contains(body, "<title>shop is down</title>") || strings.Contains(body, "private-db") {
		t.Errorf("feed: %d %s", code, body)
	}
	if code, body := get("/badge/shop.svg", ""); code != 200 || !strings.Contains(body, ">down<") {
		t.Errorf("badge: %d %s", code, body)
	}
	if code, body := get("/badge/wiki.svg?uptime=30d", ""); code != 200 || !strings.Contains(body, "%<") {
		t.Errorf("uptime badge: %d %s", code, body)
	}
	if code, _ := get("/badge/private-db.svg", ""); code != 404 {
		t.Errorf("a private check's badge: %d, want 404", code)
	}
	if code, _ := get("/api/v1/incidents", ""); code != 401 {
		t.Errorf("incidents without a token: %d, want 401", code)
	}
	code, body := get("/api/v1/incidents", "e2e-admin-token-0123")
	var ins []map[string]any
	if json.Unmarshal([]byte(body), &ins); code != 200 || len(ins) != 1 {
		t.Fatalf("incidents: %d %s", code, body)
	}
	post := func(path, body string) int {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer e2e-admin-token-0123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	id := fmt.Sprint(ins[0]["id"])
	if code := post("/api/v1/incidents/"+id+"/updates", `{"status":"identified","message":"The <shop> database is full; cleaning up."}`); code != 201 {
		t.Errorf("post update: %d", code)
	}
	if code := post("/api/v1/incidents/"+id+"/updates", `{"status":"fine","message":"x"}`); code != 400 {
		t.Errorf("bad status: %d, want 400", code)
	}
	if code := post("/api/v1/incidents/999/updates", `{"status":"identified","message":"x"}`); code != 404 {
		t.Errorf("unknown incident: %d, want 404", code)
	}
	if _, page := get("/", ""); !strings.Contains(page, "The &lt;shop&gt; database is full; cleaning up.") {
		t.Errorf("the admin's update is not on the page (escaped)")
	}
	// The live websocket pushes the rendered page, escaped by the server.
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/api/v1/status/live", nil)
	if err != nil {
		t.Fatalf("live status: %v", err)
	}
	ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	var live struct{ Title, Overall, HTML string }
	for live.Overall != "partial_outage" { // the first message may be from before the outage
		if err := ws.ReadJSON(&live); err != nil {
			t.Fatalf("live status message: %v (last %+v)", err, live)
		}
	}
	ws.Close()
	if live.Overall != "partial_outage" || !strings.Contains(live.HTML, `<main class="public status" data-generated=`) || strings.Contains(live.HTML, "private-db") {
		t.Errorf("live message: %+v", live)
	}
	// Recovery resolves the incident.
	failing.Store(false)
	v = waitOverall("operational")
	raw, _ = json.Marshal(v)
	if !strings.Contains(string(raw), `"resolved"`) {
		t.Errorf("incident not resolved: %s", raw)
	}
}

func componentStatus(v map[string]any, name string) string {
	groups, _ := v["groups"].([]any)
	for _, g := range groups {
		comps, _ := g.(map[string]any)["components"].([]any)
		for _, c := range comps {
			if m := c.(map[string]any); m["name"] == name {
				s, _ := m["status"].(string)
				return s
			}
		}
	}
	return ""
}
