package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/watchpost/watchpost/internal/peers"
)

// inNetns runs f on a thread inside the named network namespace: a
// socket made there stays there, whatever thread uses it later.
func inNetns(name string, f func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", name, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with this goroutine rather
		// than serve others from the wrong namespace.
		return fmt.Errorf("setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

func listenIn(t *testing.T, ns *peers.Netns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := inNetns(ns.Name, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// clientIn is an HTTP client whose connections are made inside ns.
func clientIn(ns *peers.Netns) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetns(ns.Name, func() (err error) {
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// vantageNet is the test's network: a router, the loghost, three
// vantages and the targets' network, each in a namespace of its own.
//
//	lh 198.51.100.1  ─┐
//	v1 198.51.100.5  ─┤
//	v2 198.51.100.9  ─┼─ rt ── tg 192.0.2.1 (targets), 192.0.2.53 (canary)
//	v3 198.51.100.13 ─┘
type vantageNet struct {
	rt, lh, tg *peers.Netns
	v          [3]*peers.Netns
}

func newVantageNet(t *testing.T) *vantageNet {
	n := &vantageNet{rt: peers.NewNetns(t), lh: peers.NewNetns(t), tg: peers.NewNetns(t)}
	n.rt.Sysctl("net/ipv4/ip_forward", "1")
	peers.Link(t, n.lh, n.rt, []string{"198.51.100.1/30"}, []string{"198.51.100.2/30"})
	n.lh.Run("ip", "route", "add", "default", "via", "198.51.100.2")
	for i := range n.v {
		n.v[i] = peers.NewNetns(t)
		a, b := fmt.Sprintf("198.51.100.%d/30", 4*(i+1)+1), fmt.Sprintf("198.51.100.%d/30", 4*(i+1)+2)
		peers.Link(t, n.v[i], n.rt, []string{a}, []string{b})
		n.v[i].Run("ip", "route", "add", "default", "via", strings.TrimSuffix(b, "/30"))
	}
	peers.Link(t, n.tg, n.rt, []string{"192.0.2.1/24", "192.0.2.53/24"}, []string{"192.0.2.254/24"})
	n.tg.Run("ip", "route", "add", "default", "via", "192.0.2.254")
	return n
}

// hookLog gathers the alerts the loghost posts to its webhook.
type hookLog struct {
	mu   sync.Mutex
	msgs []hookMsg
}

type hookMsg struct {
	Kind    string            `json:"kind"`
	Subject string            `json:"subject"`
	Text    string            `json:"text"`
	Labels  map[string]string `json:"labels"`
	at      time.Time
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m hookMsg
	json.NewDecoder(r.Body).Decode(&m)
	m.at = time.Now()
	h.mu.Lock()
	h.msgs = append(h.msgs, m)
	h.mu.Unlock()
}

// count is how many messages since from have a subject containing s.
func (h *hookLog) count(s string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m.Subject, s) || strings.Contains(m.Text, s) {
			n++
		}
	}
	return n
}

func (h *hookLog) checkAlerts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.msgs {
		if m.Kind == "check_down" {
			out = append(out, m.Subject)
		}
	}
	return out
}

func (h *hookLog) all() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, m := range h.msgs {
		fmt.Fprintf(&b, "%s %s: %s\n", m.at.Format("15:04:05.000"), m.Kind, m.Subject)
	}
	return b.String()
}

// TestVantages: one loghost and three collectors probing from their own
// networks, targets in a fourth; routes are cut one after the other:
// a vantage's to the target, then a second's, then a vantage's uplink,
// then a vantage's route to the loghost, then the loghost's own.
func TestVantages(t *testing.T) {
	n := newVantageNet(t)
	// The targets: a web server, and a known-good host for the canaries.
	web := listenIn(t, n.tg, "192.0.2.1:80")
	go http.Serve(web, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	canary := listenIn(t, n.tg, "192.0.2.53:53")
	go func() {
		for {
			c, err := canary.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	hooks := &hookLog{}
	hookLn := listenIn(t, n.lh, "127.0.0.1:0")
	go http.Serve(hookLn, hooks)

	outage := 25 * time.Second
	if d, err := time.ParseDuration(os.Getenv("WATCHPOST_VANTAGE_OUTAGE")); err == nil {
		outage = d // bench/vantage-outage.sh: ten minutes
	}
	const interval, timeout = 3 * time.Second, 2 * time.Second
	dir := t.TempDir()
	cfg := filepath.Join(dir, "watchpost.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`server:
  listen: 0.0.0.0:8080
  admin_token: e2e-admin-token-0123
storage:
  path: %s
self:
  enabled: false
hosts:
  v1: {token: token-vantage-v1}
  v2: {token: token-vantage-v2}
  v3: {token: token-vantage-v3}
vantages:
  canaries: ["tcp://192.0.2.53:53"]
  canary_interval: 2s
  canary_timeout: 1s
  public_names: {v3: Paris}
alerting:
  webhook: {url: "http://%s/hook", secret: "0123456789abcdef-e2e"}
checks:
  - {name: web, type: http, target: "http://192.0.2.1/", interval: %s, timeout: %s, public: true, vantages: [v1, v2, v3]}
  - {name: site, type: tcp, target: "192.0.2.1:80", interval: %s, timeout: %s, public: true}
`, filepath.Join(dir, "watchpost.db"), hookLn.Addr(), interval, timeout, interval, timeout)), 0o600)
	if out, errOut, rc := runCmd(t, "config", "check", cfg); rc != 0 {
		t.Fatalf("config check: %s %s", out, errOut)
	}
	lhCmd, lhOut, lhDone := startBinary(t, "ip", nil, "netns", "exec", n.lh.Name, binary, "serve", "-config", cfg)
	lh := &loghost{t: t, cmd: lhCmd, out: lhOut, done: lhDone}
	t.Cleanup(lh.kill)
	api := clientIn(n.lh)
	base := "http://127.0.0.1:8080"
	get := func(path string, v any) error {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer e2e-admin-token-0123")
		resp, err := api.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: %s", path, resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
	var logs [3]*syncBuffer
	for i, ns := range n.v {
		name := fmt.Sprintf("v%d", i+1)
		ccfg := filepath.Join(dir, name+".yml")
		os.WriteFile(ccfg, []byte(fmt.Sprintf("server: http://198.51.100.1:8080\ntoken: token-vantage-%s\nhost: %s\njournal: false\nmetrics: false\nmunin_plugins: none\nprobes: true\n", name, name)), 0o600)
		cmd, out, done := startBinary(t, "ip", nil, "netns", "exec", ns.Name, binary, "collect", "-config", ccfg, "-state", filepath.Join(dir, name))
		c := &loghost{t: t, cmd: cmd, out: out, done: done}
		t.Cleanup(c.kill)
		logs[i] = out
	}
	dump := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "alerts:\n%s\nloghost:\n%s\n", hooks.all(), lhOut.String())
		for i, l := range logs {
			fmt.Fprintf(&b, "v%d:\n%s\n", i+1, l.String())
		}
		return b.String()
	}
	eventually := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
			if ok() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v\n%s", what, within, dump())
			}
		}
	}
	type component struct {
		Name, Status, Note string
	}
	status := func(name string) component {
		var page struct {
			Groups []struct{ Components []component }
		}
		if err := get("/api/v1/status", &page); err != nil {
			return component{}
		}
		for _, g := range page.Groups {
			for _, c := range g.Components {
				if c.Name == name {
					return c
				}
			}
		}
		return component{}
	}
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "watchpost.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counting := func(check string) int {
		var g struct {
			Vantages []struct {
				Location string `json:"location"`
				Counts   bool   `json:"counts"`
			} `json:"vantages"`
		}
		if err := get("/api/v1/vantages/checks/"+check, &g); err != nil {
			return 0
		}
		k := 0
		for _, v := range g.Vantages {
			if v.Counts {
				k++
			}
		}
		return k
	}
	eventually("all vantages count", 60*time.Second, func() bool {
		return counting("web") == 3 && counting("site") == 4 && status("web").Status == "up" && status("site").Status == "up"
	})

	// 1. v1 loses its route to the target: a partial outage, nobody paged.
	n.v[0].Run("ip", "route", "add", "unreachable", "192.0.2.1/32")
	eventually("web degraded", 30*time.Second, func() bool {
		c := status("web")
		return c.Status == "degraded" && c.Note == "partial outage (seen from 1 of 3 locations)"
	})
	time.Sleep(2 * interval)
	if c := status("web"); c.Status != "degraded" {
		t.Fatalf("web %+v: want degraded\n%s", c, dump())
	}
	if a := hooks.checkAlerts(); len(a) != 0 {
		t.Fatalf("paged for a partial outage: %v\n%s", a, dump())
	}

	// 2. v2 too: down, one message, from v2's first failure, confirmed
	// within two timeouts by the "probe now" it asks for.
	cut2 := time.Now()
	n.v[1].Run("ip", "route", "add", "unreachable", "192.0.2.1/32")
	eventually("web down", 30*time.Second, func() bool { return status("web").Status == "down" })
	eventually("one down message", 20*time.Second, func() bool { return len(hooks.checkAlerts()) == 1 })
	var firstFail, started, confirmed int64
	if err := db.QueryRow(`SELECT min(time) FROM vantage_results WHERE location = 'v2' AND check_name = 'web' AND ok = 0 AND time >= ?`, cut2.UnixNano()).Scan(&firstFail); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT started FROM incidents WHERE check_name = 'web' AND resolved IS NULL`).Scan(&started); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT min(created) FROM outbox WHERE kind = 'check_down'`).Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	ff, st, cf := time.Unix(0, firstFail), time.Unix(0, started), time.Unix(0, confirmed)
	t.Logf("v2's first failure %s, incident start %s (+%v), confirmed +%v", ff.Format("15:04:05.000"), st.Format("15:04:05.000"), st.Sub(ff), cf.Sub(ff))
	// The start is the first failing observation; another vantage's
	// result that arrived between it and its report can push it by the
	// time the report took.
	if st.Before(ff) || st.Sub(ff) > timeout {
		t.Errorf("incident started %v after v2's first failure, want at it", st.Sub(ff))
	}
	if cf.Sub(ff) > 2*timeout {
		t.Errorf("confirmed %v after v2's first failure, want within two timeouts (%v)", cf.Sub(ff), 2*timeout)
	}
	n.v[0].Run("ip", "route", "del", "unreachable", "192.0.2.1/32")
	n.v[1].Run("ip", "route", "del", "unreachable", "192.0.2.1/32")
	eventually("web up again", 30*time.Second, func() bool { return status("web").Status == "up" })
	if a := hooks.checkAlerts(); len(a) != 1 {
		t.Fatalf("down messages %v, want one\n%s", a, dump())
	}

	// 3. v3 loses its uplink (it still reaches the loghost): its canaries
	// fail, it is impaired, one notice, no check alert.
	n.v[2].Run("ip", "route", "add", "unreachable", "192.0.2.0/24")
	eventually("v3 impaired notice", 30*time.Second, func() bool { return hooks.count("vantage v3 is impaired") >= 1 })
	time.Sleep(3 * interval)
	if k := hooks.count("vantage v3 is impaired"); k != 1 {
		t.Errorf("%d impaired notices, want one\n%s", k, dump())
	}
	if a := hooks.checkAlerts(); len(a) != 1 {
		t.Fatalf("check alerts while v3 is impaired: %v\n%s", a, dump())
	}
	if c := status("web"); c.Status != "up" {
		t.Errorf("web %+v while only v3 is cut off: want up", c)
	}
	n.v[2].Run("ip", "route", "del", "unreachable", "192.0.2.0/24")
	eventually("v3 counts again", 30*time.Second, func() bool { return counting("web") == 3 })

	// 4. v1 loses its route to the loghost for a while: it keeps
	// probing, then delivers every result once; the late ones change no
	// incident.
	var incidentsBefore int
	db.QueryRow(`SELECT count(*) FROM incidents WHERE source = 'check'`).Scan(&incidentsBefore)
	off := time.Now()
	n.v[0].Run("ip", "route", "add", "unreachable", "198.51.100.1/32")
	time.Sleep(outage / 2)
	n.v[0].Run("ip", "route", "del", "unreachable", "198.51.100.1/32")
	back := time.Now()
	eventually("v1's spool delivered", 120*time.Second, func() bool {
		var last int64
		db.QueryRow(`SELECT coalesce(max(time), 0) FROM vantage_results WHERE location = 'v1' AND check_name = 'web'`).Scan(&last)
		return last > back.UnixNano() && counting("web") == 3
	})
	rows, err := db.Query(`SELECT time FROM vantage_results WHERE location = 'v1' AND check_name = 'web' AND time >= ? AND time < ? ORDER BY time`,
		off.Add(-interval).UnixNano(), back.Add(interval).UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for rows.Next() {
		var ns int64
		rows.Scan(&ns)
		times = append(times, time.Unix(0, ns))
	}
	rows.Close()
	if len(times) < int((back.Sub(off))/interval)-1 {
		t.Errorf("%d results from v1 over %v offline", len(times), back.Sub(off))
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap > interval+timeout {
			t.Errorf("a hole of %v in v1's results at %s", gap, times[i].Format("15:04:05"))
		}
	}
	var late, dups int
	db.QueryRow(`SELECT count(*) FROM vantage_results WHERE location = 'v1' AND late`).Scan(&late)
	db.QueryRow(`SELECT count(*) - count(DISTINCT location || id) FROM vantage_results`).Scan(&dups)
	if late == 0 || dups != 0 {
		t.Errorf("late results %d, duplicates %d", late, dups)
	}
	var incidentsAfter int
	db.QueryRow(`SELECT count(*) FROM incidents WHERE source = 'check'`).Scan(&incidentsAfter)
	if incidentsAfter != incidentsBefore || len(hooks.checkAlerts()) != 1 {
		t.Errorf("incidents %d → %d, check alerts %v: late results changed incidents", incidentsBefore, incidentsAfter, hooks.checkAlerts())
	}

	// 5. The loghost loses its own uplink while the vantages keep
	// probing: no check alert, one summary once it is back, and the
	// uptime of that time is the vantages' view.
	day := func(check string) (up, unknown int64) {
		db.QueryRow(`SELECT coalesce(sum(up_ms), 0), coalesce(sum(unknown_ms), 0) FROM uptime_daily WHERE check_name = ?`, check).Scan(&up, &unknown)
		return
	}
	upBefore, unknownBefore := day("web")
	siteUp, siteUnknown := day("site")
	n.rt.Run("ip", "route", "add", "unreachable", "198.51.100.1/32")
	n.lh.Run("ip", "route", "replace", "unreachable", "default")
	time.Sleep(outage)
	n.lh.Run("ip", "route", "replace", "default", "via", "198.51.100.2")
	n.rt.Run("ip", "route", "del", "unreachable", "198.51.100.1/32")
	eventually("one summary", 3*time.Minute, func() bool { return hooks.count("loghost unreachable") >= 1 })
	time.Sleep(2 * interval)
	if k := hooks.count("loghost unreachable"); k != 1 {
		t.Errorf("%d summaries, want one\n%s", k, dump())
	}
	if a := hooks.checkAlerts(); len(a) != 1 {
		t.Errorf("check alerts after the loghost's outage: %v\n%s", a, dump())
	}
	hooks.mu.Lock()
	for _, m := range hooks.msgs {
		if strings.Contains(m.Subject, "loghost unreachable") && !strings.Contains(m.Subject, "0 checks changed state") {
			t.Errorf("summary %q: no check changed state", m.Subject)
		}
	}
	hooks.mu.Unlock()
	eventually("the outage's time filled", 60*time.Second, func() bool {
		up, unknown := day("web")
		sup, sunknown := day("site")
		return up-upBefore > outage.Milliseconds() && unknown-unknownBefore < 2000 && sup-siteUp > outage.Milliseconds() && sunknown-siteUnknown < 2000
	})
	if a := hooks.checkAlerts(); len(a) != 1 {
		t.Errorf("check alerts: %v", a)
	}
}
