package e2e

import (
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// BenchmarkRuleToMatrix measures issue 6's alert latency: from a log line
// arriving at the ingest API to the homeserver accepting the Matrix
// message its rule's alert caused (the event's origin_server_ts, set by
// the real Dendrite), on a route with no group wait. It reports p50 and
// p99 in milliseconds; it asserts nothing about time.
//
//	CI=true go test ./e2e/ -run '^$' -bench RuleToMatrix -benchtime 50x
func BenchmarkRuleToMatrix(b *testing.B) {
	hs := peers.StartDendrite(b)
	dir := b.TempDir()
	ruleFile := filepath.Join(dir, "probe.conf")
	os.WriteFile(ruleFile, []byte(`'LATENCY-PROBE ([0-9]+)' - - - 0 alert critical "probe $2" service=probe`+"\n"), 0o600)
	lc := loghostConfig{dir: dir, httpPort: freePort(b), syslogPort: freePort(b), extra: fmt.Sprintf(`rules:
  - file: %s
alerting:
  matrix: {homeserver: "%s", access_token: "%s", room: "%s"}
  # Each probe at once: rule alerts no route claims are grouped for 30 s,
  # and the default receiver takes 20 a minute.
  rate_limit: 0
  routes:
    - {match: {source: rule}, receiver: default}
`, ruleFile, hs.URL, hs.Token, hs.Room)}
	cfg := lc.write(b)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(b, "-config", cfg)
	lh.waitReady(base)
	var lat []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sent := time.Now()
		body := fmt.Sprintf(`{"source":"file:/var/log/app.log","gen":"g","offset":%d,"line":"app[1]: LATENCY-PROBE %d"}`+"\n", i*100, i)
		if code, m := postIngest(b, base, "token-web1", "", body); code != 200 {
			b.Fatalf("ingest %d %v", code, m)
		}
		want := fmt.Sprintf("probe %d", i)
		var ts float64
		deadline := time.Now().Add(30 * time.Second)
		for ts == 0 {
			if time.Now().After(deadline) {
				b.Fatalf("no Matrix message for %q in 30 s:\n%s", want, lh.out.String())
			}
			for _, ev := range hs.RoomMessages(b) {
				c, _ := ev["content"].(map[string]any)
				if body, _ := c["body"].(string); strings.Contains(body, want+"\n") || strings.HasSuffix(body, want) || strings.Contains(body, want+" ") {
					ts, _ = ev["origin_server_ts"].(float64)
				}
			}
			if ts == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		lat = append(lat, ts-float64(sent.UnixMilli()))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[min(len(lat)-1, len(lat)*99/100)], "p99-ms")
}

// switchProxy forwards TCP connections to a target while on, and closes
// them at once while off: a homeserver that goes away and comes back.
type switchProxy struct {
	ln     net.Listener
	target string
	on     atomic.Bool
}

func startSwitchProxy(t testing.TB, target string) *switchProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.on.Load() {
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", p.target)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
	return p
}

// TestAlertsSurviveKill: alerts queued while the homeserver is away stay
// in the outbox through a kill -9 of the loghost and are delivered after
// the restart; the Matrix reader sees each exactly once.
func TestAlertsSurviveKill(t *testing.T) {
	hs := peers.StartDendrite(t)
	proxy := startSwitchProxy(t, strings.TrimPrefix(hs.URL, "http://"))
	dir := t.TempDir()
	ruleFile := filepath.Join(dir, "probe.conf")
	os.WriteFile(ruleFile, []byte(`'KILL-PROBE ([0-9]+)' - - - 0 alert critical "kill probe $2" service=probe`+"\n"), 0o600)
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`rules:
  - file: %s
alerting:
  matrix: {homeserver: "http://%s", access_token: "%s", room: "%s"}
  # Each probe its own message at once (rule alerts no route claims
  # are grouped by rule for 30 s).
  routes:
    - {match: {source: rule}, receiver: default}
`, ruleFile, proxy.ln.Addr(), hs.Token, hs.Room)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	for i := 0; i < 3; i++ {
		body := fmt.Sprintf(`{"source":"file:/var/log/app.log","gen":"g","offset":%d,"line":"app[1]: KILL-PROBE %d"}`+"\n", i*100, i)
		if code, m := postIngest(t, base, "token-web1", "", body); code != 200 {
			t.Fatalf("ingest %d %v", code, m)
		}
	}
	// Let the dispatcher try (and fail) before the kill.
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "watchpost.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	peers.Eventually(t, 30*time.Second, func() bool {
		var n int
		db.QueryRow(`SELECT count(*) FROM deliveries WHERE attempts > 0 AND sent IS NULL`).Scan(&n)
		return n >= 3
	})
	lh.kill()
	proxy.on.Store(true)
	lh2 := startLoghost(t, "-config", cfg)
	lh2.waitReady(base)
	count := func() map[string]int {
		m := map[string]int{}
		for _, ev := range hs.RoomMessages(t) {
			c, _ := ev["content"].(map[string]any)
			body, _ := c["body"].(string)
			for i := 0; i < 3; i++ {
				if strings.Contains(body, fmt.Sprintf("kill probe %d", i)) {
					m[fmt.Sprint(i)]++
				}
			}
		}
		return m
	}
	// Backoff after the failed attempts may take a while.
	peers.Eventually(t, 3*time.Minute, func() bool { return len(count()) == 3 })
	time.Sleep(3 * time.Second)
	for k, n := range count() {
		if n != 1 {
			t.Errorf("probe %s arrived %d times", k, n)
		}
	}
}
