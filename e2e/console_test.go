package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// hostileLine is log data that must stay text on every page.
const hostileLine = `<img src=x onerror=alert(1)><script>alert("xss")</script>`

// adminDo sends an admin API request with the e2e token.
func adminDo(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer e2e-admin-token-0123")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// TestConsolePages: every page of the admin console in real headless
// Chromium after a real login — checks (live over the websocket),
// a check, a heartbeat, the incidents, an incident with its context
// (the host's hostile log lines, its metric graphs), a new incident,
// silences, maintenance, subscribers, and the public status page with
// a scheduled window and the subscription form — with no CSP violation
// or script error, hostile log data shown as text, and a screenshot of
// each (WATCHPOST_SCREENSHOTS=dir). A private check is on the console
// and on no public output; a paused check runs no probe.
func TestConsolePages(t *testing.T) {
	peers.Require(t, "chromium")
	var intranetHits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/shop":
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		case "/intranet":
			intranetHits.Add(1)
		}
		io.WriteString(w, "ok")
	})}
	go web.Serve(ln)
	t.Cleanup(func() { web.Close() })
	site := "http://" + ln.Addr().String()

	dir := t.TempDir()
	rules := filepath.Join(dir, "oom.conf")
	os.WriteFile(rules, []byte(`'Out of memory' - - - 0 alert critical "OOM killer on web1" host=web1
`), 0o600)
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), adminUser: true}
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lc.extra = fmt.Sprintf(`status_page:
  title: Example status
  groups: [Web]
  subscriptions: {enabled: true, smtp: "127.0.0.1:9", tls: none, from: status@example.org}
checks:
  - {name: wiki, type: http, target: "%[1]s/wiki", interval: 1s, conditions: ["status == 200"], public: true, group: Web}
  - {name: shop, type: http, target: "%[1]s/shop", interval: 1s, conditions: ["status == 200", "response_time < 2s"], public: true, group: Web, labels: {host: web1}}
  - {name: intranet, type: http, target: "%[1]s/intranet", interval: 1s, conditions: ["status == 200"], group: Internal}
heartbeats:
  - {name: backup, id: 0b7d4c1e-console-e2e-heartbeat, period: 24h, grace: 1h, public: true, group: Web}
rules:
  - file: %[2]s
`, site, rules)
	cfgPath := lc.write(t)
	// The server section gets the public URL.
	text, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, []byte(strings.Replace(string(text), "server:\n", "server:\n  public_url: "+base+"\n", 1)), 0o600)
	lh := startLoghost(t, "-config", cfgPath)
	lh.waitReady(base)
	defer func() {
		if t.Failed() {
			t.Logf("loghost output:\n%s", lh.out.String())
		}
	}()

	// web1's hostile log lines by syslog (err and warning), and a day of
	// its metrics through the ingest API.
	sl, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", lc.syslogPort))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, m := range []string{"<3>1 %s web1 kernel - - - Out of memory: Killed process 4242 " + hostileLine,
		"<12>1 %s web1 app 77 - - disk almost full " + hostileLine + "\x1b[31m"} {
		fmt.Fprintf(sl, m, now.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano))
	}
	sl.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/ingest", strings.NewReader(string(history(now))))
	req.Header.Set("Authorization", "Bearer token-web1")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ingest metrics: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	if r, err := http.Post(base+"/ping/0b7d4c1e-console-e2e-heartbeat/start", "text/plain", nil); err == nil {
		r.Body.Close()
	}
	time.Sleep(300 * time.Millisecond)
	resp, err := http.Post(base+"/ping/0b7d4c1e-console-e2e-heartbeat", "text/plain", strings.NewReader("backup done "+hostileLine))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// The shop goes down, the OOM rule fires.
	type incident struct {
		ID     int64  `json:"id"`
		Source string `json:"source"`
		Check  string `json:"check"`
		URL    string `json:"url"`
	}
	var shopInc, oomInc incident
	peers.Eventually(t, 60*time.Second, func() bool {
		var list []incident
		adminDo(t, "GET", base+"/api/v1/incidents", "", &list)
		for _, in := range list {
			switch {
			case in.Check == "shop":
				shopInc = in
			case in.Source == "rule":
				oomInc = in
			}
		}
		return shopInc.ID > 0 && oomInc.ID > 0
	})
	if shopInc.URL != fmt.Sprintf("%s/admin/incidents/%d", base, shopInc.ID) {
		t.Errorf("incident url %q", shopInc.URL)
	}
	var manual incident
	if code := adminDo(t, "POST", base+"/api/v1/incidents", `{"title":"Slow logins","components":["wiki"],"status":"identified","message":"The directory server is overloaded."}`, &manual); code != 201 {
		t.Fatalf("manual incident: %d", code)
	}
	start := now.Add(26 * time.Hour).Truncate(time.Hour)
	if code := adminDo(t, "POST", base+"/api/v1/maintenance", fmt.Sprintf(`{"name":"wiki upgrade","start":%q,"end":%q,"checks":["wiki"],"description":"The wiki is read-only during the upgrade."}`,
		start.Format(time.RFC3339), start.Add(2*time.Hour).Format(time.RFC3339)), nil); code != 201 {
		t.Fatalf("maintenance: %d", code)
	}
	if code := adminDo(t, "POST", base+"/api/v1/silences", `{"match":["check=intranet"],"duration":"2h","author":"ops","comment":"switch replacement"}`, nil); code != 201 {
		t.Fatalf("silence: %d", code)
	}
	resp, err = http.PostForm(base+"/subscribe", url.Values{"email": {"ana@example.org"}, "component": {"wiki"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", err, resp)
	}
	resp.Body.Close()

	// The private check is on no public output.
	for _, p := range []string{"/", "/api/v1/status", "/feed.atom"} {
		r, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if strings.Contains(string(b), "intranet") || strings.Contains(string(b), "ana@example.org") {
			t.Errorf("%s shows the private check or a subscriber", p)
		}
		if p == "/feed.atom" && (!strings.Contains(string(b), "Slow logins") || !strings.Contains(string(b), "Scheduled maintenance: wiki upgrade")) {
			t.Errorf("feed lacks the manual incident or the window: %s", b)
		}
	}
	if r, _ := http.Get(base + "/badge/intranet.svg"); r.StatusCode != 404 {
		t.Errorf("badge of a private check: %d", r.StatusCode)
	}

	shots := os.Getenv("WATCHPOST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	b := peers.StartBrowser(t, 1280, 900)
	b.Call("Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": chartWatch}, nil)
	b.Navigate(base + "/admin/checks")
	b.WaitFor(`location.pathname === "/admin/login"`, 10*time.Second)
	submitLogin(b)
	b.WaitFor(`location.pathname === "/admin/checks" && document.readyState === "complete"`, 20*time.Second)
	// Every page: its own checks, no injected element, no CSP problem.
	clean := func(page string) {
		t.Helper()
		if p := string(b.Eval(`window.__problems`)); p != "[]" {
			t.Errorf("%s: console errors or CSP violations: %s", page, p)
		}
		if n := string(b.Eval(`document.querySelectorAll("script:not([src]), img[src=x], [onerror]").length`)); n != "0" {
			t.Errorf("%s: %s injected elements", page, n)
		}
	}
	shot := func(name string) {
		t.Helper()
		if n := b.Screenshot(filepath.Join(shots, name)); n < 10000 {
			t.Errorf("%s: screenshot only %d bytes", name, n)
		}
	}
	has := func(page string, texts ...string) {
		t.Helper()
		for _, s := range texts {
			q, _ := json.Marshal(s)
			if string(b.Eval(`document.body.textContent.includes(`+string(q)+`)`)) != "true" {
				t.Errorf("%s lacks %q", page, s)
			}
		}
	}

	// The list: live over the websocket; a pause from the API shows up
	// without a reload.
	b.WaitFor(`document.getElementById("checklist").dataset.live`, 20*time.Second)
	b.WaitFor(`document.title.includes("1 down")`, 30*time.Second)
	has("checks", "intranet", "private", "backup", "wiki", "shop")
	if code := adminDo(t, "POST", base+"/api/v1/checks/intranet/pause", `{}`, nil); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	time.Sleep(1500 * time.Millisecond) // a probe under way may still finish
	before := intranetHits.Load()
	b.WaitFor(`document.querySelector('tr[data-state="paused"] a[href="/admin/checks/intranet"]') && document.title.includes("1 paused")`, 20*time.Second)
	clean("checks")
	shot("console-checks.png")
	b.Eval(`document.querySelector('nav.filter a[data-filter="down"]').click(); true`)
	b.WaitFor(`location.search === "?state=down" && document.readyState === "complete"`, 10*time.Second)
	if v := string(b.Eval(`[...document.querySelectorAll("#checklist tr[data-state]")].filter(r => !r.hidden).map(r => r.dataset.state).join()`)); v != `"down"` {
		t.Errorf("filter down shows %s", v)
	}

	// A check's page, from the list: the failed condition and the graph.
	b.Navigate(base + "/admin/checks/shop")
	has("shop", "status == 200", "Response time, last 24 hours", "incident #")
	b.WaitFor(`document.querySelector("svg.rt.console circle.fail")`, 10*time.Second)
	clean("check")
	// Run now from the page: a form, then the note.
	b.Eval(`document.querySelector('form[action="/admin/checks/shop/run"]').submit(); true`)
	b.WaitFor(`document.querySelector(".note") && document.querySelector(".note").textContent.includes("Probe started")`, 10*time.Second)

	// The picture of a check is the wiki's, which has a line to draw.
	b.Navigate(base + "/admin/checks/wiki")
	b.WaitFor(`document.querySelector("svg.rt.console path")`, 10*time.Second)
	clean("wiki")
	shot("console-check.png")

	b.Navigate(base + "/admin/checks/backup")
	has("backup", "Pings", hostileLine)
	clean("heartbeat")
	if n := string(b.Eval(`document.querySelectorAll("svg.rt.pings circle.success").length`)); n != "1" {
		t.Errorf("heartbeat ping marks: %s", n)
	}
	if string(b.Eval(`document.body.textContent.includes("Response time")`)) != "false" {
		t.Error("a heartbeat has a response-time graph")
	}
	shot("console-heartbeat.png")

	b.Navigate(base + "/admin/incidents")
	has("incidents", "shop is down", "OOM killer on web1", "Slow logins")
	clean("incidents")
	shot("console-incidents.png")

	// The rule's incident: its host's log lines (hostile, as text), the
	// rule's match, the host's graphs for the hour around it.
	b.Navigate(fmt.Sprintf("%s/admin/incidents/%d", base, oomInc.ID))
	has("incident", "Timeline", "Rule alert (opened)", "Out of memory: Killed process 4242 "+hostileLine, "disk almost full", `\x1b[31m`, "What the rule matched")
	b.WaitFor(`document.querySelectorAll("figure.graph").length > 0 && [...document.querySelectorAll("figure.graph")].every(f => f.dataset.drawn)`, 30*time.Second)
	if bad := string(b.Eval(`[...document.querySelectorAll("figure.graph")].filter(f => f.dataset.drawn === "error").length`)); bad != "0" {
		t.Errorf("%s incident graphs failed", bad)
	}
	// Acknowledge and post an update from the page.
	b.Eval(`document.querySelector('form.update textarea').value = "Restarted the worker."; document.querySelector('form.update').submit(); true`)
	b.WaitFor(`document.querySelector(".note") && document.body.textContent.includes("Public update: investigating")`, 10*time.Second)
	b.Eval(`document.querySelector('input[name=op][value=ack]').form.submit(); true`)
	b.WaitFor(`document.body && document.body.textContent.includes("Acknowledged by admin")`, 10*time.Second)
	clean("incident")
	shot("console-incident.png")

	b.Navigate(base + "/admin/incidents/new")
	b.Eval(`document.querySelector("input[name=title]").value = "Mail <delays>"; document.querySelector("textarea[name=message]").value = "Queues are long."; document.querySelector('input[name=component][value=wiki]').checked = true; true`)
	clean("new incident")
	shot("console-new-incident.png")
	b.Eval(`document.querySelector("form.stack").submit(); true`)
	b.WaitFor(`/^\/admin\/incidents\/\d+$/.test(location.pathname) && document.body && document.body.textContent.includes("Mail <delays>")`, 10*time.Second)

	b.Navigate(fmt.Sprintf("%s/admin/silences?incident=%d", base, oomInc.ID))
	has("silences", "switch replacement", "check=intranet")
	if v := string(b.Eval(`document.querySelector("textarea[name=matchers]").value`)); !strings.Contains(v, "host=web1") {
		t.Errorf("silence form from the incident: %s", v)
	}
	clean("silences")
	shot("console-silences.png")

	b.Navigate(base + "/admin/maintenance")
	has("maintenance", "wiki upgrade", "The wiki is read-only during the upgrade.")
	clean("maintenance")
	shot("console-maintenance.png")

	b.Navigate(base + "/admin/subscribers")
	has("subscribers", "ana@example.org", "0 confirmed, 1 waiting")
	clean("subscribers")
	shot("console-subscribers.png")

	// The places that probe: here the loghost alone.
	b.Navigate(base + "/admin/vantages")
	has("vantages", "Vantages", "loghost")
	clean("vantages")
	shot("console-vantages.png")

	// The public page: the window ahead, the manual incident, the
	// heartbeat's pings, the form; nothing private.
	b.Navigate(base + "/")
	has("status", "Scheduled maintenance", "wiki upgrade", "Slow logins", "Get updates by email")
	if string(b.Eval(`document.body.textContent.includes("intranet")`)) != "false" {
		t.Error("the status page shows the private check")
	}
	if n := string(b.Eval(`document.querySelectorAll("svg.pings circle.ok").length`)); n != "1" {
		t.Errorf("status page heartbeat pings: %s", n)
	}
	clean("status")
	shot("status-maintenance.png")

	// The hosts list says when each host last sent a sample; a host with
	// one sample has no "nan" in its legends at any range.
	one := fmt.Sprintf(`{"type":"metric","ts":%d,"origin":"builtin","graph":{"name":"load","title":"Load average","category":"system","fields":[{"name":"load","label":"load"}]},"values":[{"field":"load","value":0.5}]}`+"\n", now.Unix())
	if code, m := postIngest(t, base, "token-db1", "", one); code != 200 {
		t.Fatalf("ingest db1: %d %v", code, m)
	}
	var hosts []struct {
		Name     string    `json:"name"`
		LastSeen time.Time `json:"last_seen"`
	}
	peers.Eventually(t, 30*time.Second, func() bool {
		adminDo(t, "GET", base+"/api/v1/metrics/hosts", "", &hosts)
		return len(hosts) == 2
	})
	for _, h := range hosts {
		if h.LastSeen.IsZero() || now.Sub(h.LastSeen) > 10*time.Minute {
			t.Errorf("host %s last sample %v", h.Name, h.LastSeen)
		}
	}
	for _, rng := range []string{"day", "year"} {
		b.Navigate(base + "/admin/hosts/db1?range=" + rng)
		b.WaitFor(`[...document.querySelectorAll("figure.graph")].length > 0 && [...document.querySelectorAll("figure.graph")].every(f => f.dataset.drawn)`, 30*time.Second)
		if string(b.Eval(`[...document.querySelectorAll("table.legend")].some(t => t.textContent.includes("nan"))`)) != "false" {
			t.Errorf("db1 %s legend says nan", rng)
		}
		clean("host " + rng)
	}

	// The paused check ran no probe since.
	time.Sleep(3 * time.Second)
	if after := intranetHits.Load(); after != before {
		t.Errorf("a paused check was probed %d times", after-before)
	}
	// A paused public check is neither up nor down on the public page.
	if code := adminDo(t, "POST", base+"/api/v1/checks/shop/pause", `{"duration":"1h"}`, nil); code != 200 {
		t.Fatalf("pause shop: %d", code)
	}
	var st struct {
		Overall string `json:"overall"`
		Groups  []struct {
			Components []struct{ Name, Status string } `json:"components"`
		} `json:"groups"`
	}
	adminDo(t, "GET", base+"/api/v1/status", "", &st)
	for _, g := range st.Groups {
		for _, c := range g.Components {
			if c.Name == "shop" && c.Status != "unknown" {
				t.Errorf("paused shop is %s on the status page", c.Status)
			}
		}
	}
	if st.Overall != "operational" {
		t.Errorf("overall %s with the down check paused", st.Overall)
	}
}
