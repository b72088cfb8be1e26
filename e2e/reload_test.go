package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestReloadChecksAndHeartbeats: SIGHUP means reload. A check and a
// heartbeat are added, changed and removed by editing the file and
// sending SIGHUP to the real binary: the new check is probed and shows on
// the status page, the changed one probes its new target, the removed
// one is probed no more and leaves the page; heartbeat ids follow the
// file. A key that needs a restart is named in the log.
func TestReloadChecksAndHeartbeats(t *testing.T) {
	var shopHits, wikiHits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/shop":
			shopHits.Add(1)
		case "/wiki":
			wikiHits.Add(1)
		case "/moved":
			http.Error(w, "gone", http.StatusGone)
			return
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	web := "http://" + ln.Addr().String()

	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	const idA, idB, idC = "0b7a4c3e-aaaa-4c55-9a57-0d3e8b7f1c42", "0b7a4c3e-bbbb-4c55-9a57-0d3e8b7f1c42", "0b7a4c3e-cccc-4c55-9a57-0d3e8b7f1c42"
	write := func(extra string) string {
		lc.extra = extra
		return lc.write(t)
	}
	cfg := write(fmt.Sprintf(`checks:
  - {name: wiki, type: http, target: "%s/wiki", interval: 1s, public: true}
heartbeats:
  - {name: nightly, id: %s, period: 24h, public: true}
`, web, idA))
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)

	status := func() map[string]any { return statusOf(t, base) }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("never: %s\nstatus: %v\nlog:\n%s", what, status(), lh.out.String())
	}
	ping := func(id string) int {
		resp, err := http.Post(base+"/ping/"+id, "text/plain", strings.NewReader("ok"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	reload := func(n int) {
		t.Helper()
		lh.cmd.Process.Signal(syscall.SIGHUP)
		waitFor("reload logged", func() bool { return strings.Count(lh.out.String(), "configuration reloaded") >= n })
	}
	waitFor("wiki up", func() bool { return componentStatus(status(), "wiki") == "up" })
	if ping(idA) != 200 || ping(idB) != 404 {
		t.Fatal("heartbeat ids before the reload")
	}

	// Add a check and a heartbeat; change the other check's target and
	// the other heartbeat's id.
	write(fmt.Sprintf(`checks:
  - {name: wiki, type: http, target: "%s/moved", interval: 1s, public: true}
  - {name: shop, type: http, target: "%s/shop", interval: 1s, public: true}
heartbeats:
  - {name: nightly, id: %s, period: 24h, public: true}
  - {name: weekly, id: %s, period: 168h, public: true}
`, web, web, idC, idB))
	reload(1)
	waitFor("shop probed and up on the page", func() bool { return shopHits.Load() > 0 && componentStatus(status(), "shop") == "up" })
	waitFor("wiki down at its new target", func() bool { return componentStatus(status(), "wiki") == "down" })
	if c := componentStatus(status(), "weekly"); c == "" {
		t.Fatalf("the new heartbeat is not on the page: %v", status())
	}
	if a, b, c := ping(idA), ping(idB), ping(idC); a != 404 || b != 200 || c != 200 {
		t.Fatalf("heartbeat ids after the reload: old %d, new %d, changed %d", a, b, c)
	}
	wikiBefore := wikiHits.Load()

	// Remove them again; a listener change waits for a restart, and says so.
	cfg = write(fmt.Sprintf(`checks:
  - {name: wiki, type: http, target: "%s/wiki", interval: 1s, public: true}
heartbeats:
  - {name: nightly, id: %s, period: 24h, public: true}
`, web, idC))
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), fmt.Sprintf("syslog_listen: 127.0.0.1:%d", lc.syslogPort), fmt.Sprintf("syslog_listen: 127.0.0.1:%d", freePort(t)), 1)), 0o600)
	reload(2)
	waitFor("shop gone from the page", func() bool {
		return componentStatus(status(), "shop") == "" && componentStatus(status(), "weekly") == ""
	})
	waitFor("wiki up at its old target again", func() bool { return componentStatus(status(), "wiki") == "up" })
	if wikiHits.Load() == wikiBefore {
		t.Fatal("wiki not probed at its target again")
	}
	hits := shopHits.Load()
	time.Sleep(3 * time.Second)
	if shopHits.Load() != hits {
		t.Fatalf("a removed check is still probed (%d more)", shopHits.Load()-hits)
	}
	if ping(idB) != 404 || ping(idC) != 200 {
		t.Fatal("a removed heartbeat still answers")
	}
	if !strings.Contains(lh.out.String(), "server.syslog_listen") || !strings.Contains(lh.out.String(), "next restart") {
		t.Fatalf("the log does not name the key that needs a restart:\n%s", lh.out.String())
	}
	lh.stop()
}

// TestReloadReceivers: a webhook receiver and a route added by SIGHUP get
// the next alert; before the reload there was none to send to.
func TestReloadReceivers(t *testing.T) {
	got := make(chan string, 16)
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	})}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hook.Serve(hl)
	t.Cleanup(func() { hook.Close() })
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { up.Close() })
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	lc.extra = fmt.Sprintf("checks:\n  - {name: db, type: tcp, target: %q, interval: 1s}\n", up.Addr().String())
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	time.Sleep(2 * time.Second) // a probe or two while it is up

	lc.extra = fmt.Sprintf(`checks:
  - {name: db, type: tcp, target: %q, interval: 1s, labels: {team: dba}}
alerting:
  receivers:
    dba: {webhook: {url: "http://%s/hook", secret: "0123456789abcdef-e2e"}}
  routes:
    - {match: {team: dba}, receiver: dba}
`, closedAddr, hl.Addr())
	lc.write(t)
	lh.cmd.Process.Signal(syscall.SIGHUP)
	select {
	case body := <-got:
		if !strings.Contains(body, `db`) {
			t.Fatalf("webhook body %s", body)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("the receiver added by reload got nothing:\n%s", lh.out.String())
	}
	lh.stop()
}
