package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/munin"
)

// adminGet fetches an admin API path with the e2e admin token.
func adminGet(t *testing.T, base, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer e2e-admin-token-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// history is nine days of three munin-style graphs every five minutes,
// ending at end, as a collector would have sent them.
func history(end time.Time) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	load := munin.Graph{Name: "load", Title: "Load average", VLabel: "load", Category: "system", Args: "--base 1000 -l 0",
		Fields: []munin.Field{{Name: "load", Label: "load", Warning: "4", Critical: "8"}}}
	cpu := munin.Graph{Name: "cpu", Title: "CPU usage", VLabel: "%", Category: "system", Args: "--base 1000 -r --lower-limit 0 --upper-limit 200",
		Order: []string{"system", "user", "idle"},
		Fields: []munin.Field{{Name: "system", Label: "system", Type: munin.Derive, Min: "0", Draw: "AREA"},
			{Name: "user", Label: "user", Type: munin.Derive, Min: "0", Draw: "STACK"},
			{Name: "idle", Label: "idle", Type: munin.Derive, Min: "0", Draw: "STACK"}}}
	net := munin.Graph{Name: "if_eth0", Title: "eth0 traffic", VLabel: "bits in (-) / out (+) per ${graph_period}", Category: "network",
		Args: "--base 1000", Order: []string{"down", "up"},
		Fields: []munin.Field{{Name: "down", Label: "received", Type: munin.Derive, Min: "0", Graph: "no", Cdef: "down,8,*"},
			{Name: "up", Label: "bps", Type: munin.Derive, Min: "0", Negative: "down", Cdef: "up,8,*"}}}
	start := end.Add(-9 * 24 * time.Hour).Truncate(5 * time.Minute)
	var sys, usr, idle, down, up float64
	for t := start; !t.After(end); t = t.Add(5 * time.Minute) {
		h := float64(t.Unix()%86400) / 86400 * 2 * math.Pi
		l := 1.5 + math.Sin(h)
		sys += 300 * (10 + 5*math.Sin(h))
		usr += 300 * (30 + 20*math.Sin(h))
		idle += 300 * (160 - 25*math.Sin(h))
		down += 300 * (2e5 + 1e5*math.Sin(h))
		up += 300 * (5e4 + 2e4*math.Cos(h))
		for _, it := range []munin.Item{
			{Type: "metric", Time: t.Unix(), Origin: "builtin", Graph: load, Values: []munin.Value{{Field: "load", Value: l}}},
			{Type: "metric", Time: t.Unix(), Origin: "builtin", Graph: cpu, Values: []munin.Value{{Field: "system", Value: math.Round(sys)}, {Field: "user", Value: math.Round(usr)}, {Field: "idle", Value: math.Round(idle)}}},
			{Type: "metric", Time: t.Unix(), Origin: "builtin", Graph: net, Values: []munin.Value{{Field: "down", Value: math.Round(down)}, {Field: "up", Value: math.Round(up)}}},
		} {
			enc.Encode(it)
		}
	}
	return buf.Bytes()
}

// TestHostMetrics: the collector's built-in readers and Debian's real
// munin-node (polled by the loghost) both end up as graphs; nine days of
// history sent through the ingest API come back from the graph API at
// munin's resolutions; the admin's host page draws day and week graphs
// in real headless Chromium after a real login.
func TestHostMetrics(t *testing.T) {
	bins := peers.Require(t, "munin-node", "chromium")
	dir := t.TempDir()
	nodePort := freePort(t)
	nodeCfg := filepath.Join(dir, "munin-node.conf")
	os.WriteFile(nodeCfg, []byte(fmt.Sprintf("log_level 4\nlog_file %s/munin-node.log\npid_file %s/munin-node.pid\nbackground 0\nsetsid 0\nuser root\ngroup root\nhost_name oldbox.example\nallow ^127\\.0\\.0\\.1$\nhost 127.0.0.1\nport %d\n", dir, dir, nodePort)), 0o644)
	peers.Start(t, bins["munin-node"], "--config", nodeCfg)
	peers.WaitTCP(t, peers.Addr(nodePort), 20*time.Second)

	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), adminUser: true, extra: fmt.Sprintf(`munin_nodes:
  - {name: oldbox, address: "127.0.0.1:%d", interval: 10s}
`, nodePort)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)

	// Nine days of history for web1, through the ingest API.
	now := time.Now()
	req, _ := http.NewRequest("POST", base+"/api/v1/ingest", bytes.NewReader(history(now)))
	req.Header.Set("Authorization", "Bearer token-web1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(body), "rejected") {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	// The collector's built-in readers for db1.
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("token-db1\n"), 0o600)
	if out, errOut, rc := runCmd(t, "collect", "-once", "-journal=false", "-munin-plugins=none", "-server", base, "-token-file", tok, "-state", filepath.Join(dir, "c")); rc != 0 {
		t.Fatalf("collect: %d %s %s", rc, out, errOut)
	}

	// A running collector answers a munin master: the stock plugins and
	// the built-in graphs, as one munin-node.
	listen := peers.Addr(freePort(t))
	startProc(t, "collect", "-journal=false", "-interval", "10s", "-munin-listen", listen, "-server", base, "-token-file", tok, "-state", filepath.Join(dir, "c2"), "-host", "db1")
	peers.WaitTCP(t, listen, 20*time.Second)
	pctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	nodeName, ngs, nfs, err := munin.Poll(pctx, listen, time.Minute)
	cancel()
	if err != nil && len(nfs) == 0 {
		t.Fatalf("poll the collector: %v", err)
	}
	served := map[string]bool{}
	for _, g := range ngs {
		served[g.Name] = true
	}
	// load, cpu, memory and df are stock plugins here; tcp and threads
	// only the built-in readers have.
	for _, want := range []string{"load", "cpu", "memory", "df", "tcp", "threads"} {
		if !served[want] {
			t.Errorf("the collector's munin node lacks %s (has %d graphs, node %q)", want, len(ngs), nodeName)
		}
	}

	graphNames := func(host string) map[string]bool {
		var gs []munin.Graph
		adminGet(t, base, "/api/v1/metrics/hosts/"+host+"/graphs", &gs)
		m := map[string]bool{}
		for _, g := range gs {
			m[g.Name] = true
		}
		return m
	}
	peers.Eventually(t, 60*time.Second, func() bool {
		a, b, c := graphNames("web1"), graphNames("db1"), graphNames("oldbox")
		return a["cpu"] && a["load"] && a["if_eth0"] && b["load"] && b["memory"] && c["load"] && c["cpu"] && c["memory"]
	})

	type graphData struct {
		T      []int64 `json:"t"`
		Series []struct {
			Label    string     `json:"label"`
			Y        []*float64 `json:"y"`
			Negative bool       `json:"negative"`
			Avg      *float64   `json:"avg"`
		} `json:"series"`
	}
	for _, tc := range []struct {
		rng      string
		minStep  int64
		minCount int
	}{{"day", 300, 300}, {"week", 1800, 300}} {
		var g graphData
		if code := adminGet(t, base, "/api/v1/metrics/hosts/web1/graphs/cpu?range="+tc.rng, &g); code != 200 {
			t.Fatalf("%s: %d", tc.rng, code)
		}
		if len(g.T) < tc.minCount || g.T[1]-g.T[0] < tc.minStep || len(g.Series) != 3 {
			t.Fatalf("cpu by %s: %d points, series %d", tc.rng, len(g.T), len(g.Series))
		}
		// system is ~10 %/s of a core on average: rates, not counters.
		if a := g.Series[0].Avg; a == nil || *a < 5 || *a > 15 {
			t.Errorf("cpu system average by %s = %v, want ≈10", tc.rng, a)
		}
	}
	var nt graphData
	adminGet(t, base, "/api/v1/metrics/hosts/web1/graphs/if_eth0?range=day", &nt)
	if len(nt.Series) != 2 || !nt.Series[1].Negative {
		t.Fatalf("if_eth0: %+v", nt.Series)
	}

	// The pages, in a real browser after a real login.
	b := peers.StartBrowser(t, 1280, 900)
	b.Navigate(base + "/admin/hosts")
	b.WaitFor(`location.pathname === "/admin/login"`, 10*time.Second)
	submitLogin(b)
	b.WaitFor(`location.pathname === "/admin/hosts" && document.readyState === "complete"`, 20*time.Second)
	for _, h := range []string{"web1", "db1", "oldbox"} {
		if string(b.Eval(fmt.Sprintf(`document.body.textContent.includes(%q)`, h))) != "true" {
			t.Errorf("host list lacks %s", h)
		}
	}
	shots := os.Getenv("WATCHPOST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	for _, rng := range []string{"day", "week"} {
		b.Navigate(base + "/admin/hosts/web1?range=" + rng)
		b.WaitFor(`document.querySelectorAll("figure.graph").length === 3 && [...document.querySelectorAll("figure.graph")].every(f => f.dataset.drawn)`, 30*time.Second)
		if bad := string(b.Eval(`[...document.querySelectorAll("figure.graph")].filter(f => f.dataset.drawn === "error" || +f.dataset.drawn < 50).map(f => f.dataset.graph).join()`)); bad != `""` {
			t.Errorf("%s graphs not drawn: %s", rng, bad)
		}
		if n := string(b.Eval(`document.querySelectorAll("figure.graph canvas").length`)); n == "0" {
			t.Errorf("%s: no canvases", rng)
		}
		if n := b.Screenshot(filepath.Join(shots, "host-web1-"+rng+".png")); n < 20000 {
			t.Errorf("%s screenshot only %d bytes", rng, n)
		}
	}
	if t.Failed() {
		t.Logf("loghost output:\n%s", lh.out.String())
	}
}

// TestMetricsVictoria: with storage.victoriametrics_url every sample also
// goes to Debian's real VictoriaMetrics, and a week's graph is read back
// from it at a finer step than the local 30-minute tier keeps.
func TestMetricsVictoria(t *testing.T) {
	peers.Require(t, "victoria-metrics")
	dir := t.TempDir()
	vmAddr := peers.Addr(freePort(t))
	peers.Start(t, "victoria-metrics", "-httpListenAddr="+vmAddr, "-storageDataPath="+filepath.Join(dir, "vm"), "-search.latencyOffset=0s")
	peers.WaitTCP(t, vmAddr, 30*time.Second)
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: "storage:\n  victoriametrics_url: http://" + vmAddr + "\n"}
	cfg := lc.write(t)
	// The common part already has a storage section: merge the key in.
	text, _ := os.ReadFile(cfg)
	text = bytes.Replace(text, []byte("storage:\n  victoriametrics_url: http://"+vmAddr+"\n"), nil, 1)
	text = bytes.Replace(text, []byte("storage:\n"), []byte("storage:\n  victoriametrics_url: http://"+vmAddr+"\n"), 1)
	os.WriteFile(cfg, text, 0o600)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	req, _ := http.NewRequest("POST", base+"/api/v1/ingest", bytes.NewReader(history(time.Now())))
	req.Header.Set("Authorization", "Bearer token-web1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest: %d", resp.StatusCode)
	}
	// The samples reach VictoriaMetrics.
	count := func() int {
		http.Get("http://" + vmAddr + "/internal/force_flush")
		r, err := http.Get("http://" + vmAddr + `/api/v1/export?match[]=munin_value{host="web1",graph="load"}`)
		if err != nil {
			return 0
		}
		defer r.Body.Close()
		var line struct {
			Values []float64 `json:"values"`
		}
		json.NewDecoder(r.Body).Decode(&line)
		return len(line.Values)
	}
	peers.Eventually(t, 60*time.Second, func() bool { return count() > 2500 })
	// A week's graph comes back finer than the 30-minute tier.
	var g struct {
		T []int64 `json:"t"`
	}
	peers.Eventually(t, 30*time.Second, func() bool {
		return adminGet(t, base, "/api/v1/metrics/hosts/web1/graphs/load?range=week", &g) == 200 && len(g.T) > 400
	})
	if step := g.T[len(g.T)-1] - g.T[len(g.T)-2]; step >= 1800 {
		t.Errorf("week graph step %d s: not read from VictoriaMetrics (%d points)", step, len(g.T))
	}
	if t.Failed() {
		t.Logf("loghost output:\n%s", lh.out.String())
	}
}

// TestMetricThresholdAlert: a metric beyond a configured threshold raises
// one alert through the whole loghost (ingest, metric store, thresholds,
// outbox, routing) to a signed webhook; its recovery follows, threaded.
func TestMetricThresholdAlert(t *testing.T) {
	type hook struct {
		Kind    string            `json:"kind"`
		Subject string            `json:"subject"`
		Text    string            `json:"text"`
		Labels  map[string]string `json:"labels"`
	}
	got := make(chan hook, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h hook
		json.NewDecoder(r.Body).Decode(&h)
		got <- h
	}))
	defer srv.Close()
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`thresholds:
  - {host: web1, graph: load, critical: "5"}
alerting:
  webhook: {url: "%s", secret: "0123456789abcdef-e2e"}
`, srv.URL)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	g := munin.Graph{Name: "load", Title: "Load average", Category: "system", Fields: []munin.Field{{Name: "load", Label: "load"}}}
	send := func(start time.Time, vals ...float64) {
		var buf bytes.Buffer
		for i, v := range vals {
			json.NewEncoder(&buf).Encode(munin.Item{Type: "metric", Time: start.Add(time.Duration(i) * time.Minute).Unix(), Graph: g, Values: []munin.Value{{Field: "load", Value: v}}})
		}
		req, _ := http.NewRequest("POST", base+"/api/v1/ingest", &buf)
		req.Header.Set("Authorization", "Bearer token-web1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("ingest: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	start := time.Now().Add(-20 * time.Minute).Truncate(time.Minute)
	send(start, 1, 1, 9, 9, 9)
	wait := func(what string) hook {
		select {
		case h := <-got:
			return h
		case <-time.After(90 * time.Second):
			t.Fatalf("no %s webhook in 90 s:\n%s", what, lh.out.String())
		}
		return hook{}
	}
	h := wait("critical")
	if h.Kind != "metric_threshold" || !strings.Contains(h.Text, "CRITICAL") || h.Labels["source"] != "metric" || h.Labels["host"] != "web1" {
		t.Fatalf("critical alert: %+v", h)
	}
	send(start.Add(5*time.Minute), 1, 1, 1)
	h2 := wait("recovery")
	if !strings.Contains(h2.Text, "back inside") || h2.Subject != h.Subject {
		t.Fatalf("recovery: %+v", h2)
	}
	select {
	case extra := <-got:
		t.Errorf("one alert and one recovery expected, also got %+v", extra)
	case <-time.After(2 * time.Second):
	}
}

// TestHostSilent: a collector host that stops sending raises one "host
// silent" alert, and one "reporting again" when it is back.
func TestHostSilent(t *testing.T) {
	type hook struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	}
	got := make(chan hook, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h hook
		json.NewDecoder(r.Body).Decode(&h)
		got <- h
	}))
	defer srv.Close()
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`alerting:
  host_silent_after: 3s
  webhook: {url: "%s", secret: "0123456789abcdef-e2e"}
`, srv.URL)}
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", lc.write(t))
	lh.waitReady(base)
	report := `{"type":"report","version":"e2e","uptime_seconds":1}` + "\n"
	if code, m := postIngest(t, base, "token-web1", "", report); code != 200 {
		t.Fatalf("ingest %d %v", code, m)
	}
	wait := func(kind string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case h := <-got:
				if h.Kind == kind {
					if !strings.Contains(h.Text, "web1") {
						t.Errorf("%s does not name the host: %q", kind, h.Text)
					}
					return
				}
			case <-deadline:
				t.Fatalf("no %s in 30 s:\n%s", kind, lh.out.String())
			}
		}
	}
	wait("host_silent")
	if code, m := postIngest(t, base, "token-web1", "", report); code != 200 {
		t.Fatalf("ingest %d %v", code, m)
	}
	wait("host_back")
}
