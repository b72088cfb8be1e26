package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
