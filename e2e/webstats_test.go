package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	webstatsfixture "github.com/watchpost/watchpost/fixtures/webstats"
	"github.com/watchpost/watchpost/internal/peers"
)

type statsTotals struct {
	Hits, Pages, Bytes, Visits int64
	Unique                     int64 `json:"unique_visitors"`
	GoAccessUnique             int64 `json:"goaccess_unique_visitors"`
}

type statsReport struct {
	Site   string      `json:"site"`
	Month  string      `json:"month"`
	Totals statsTotals `json:"totals"`
	Days   []struct {
		Date   string `json:"date"`
		Hits   int64  `json:"hits"`
		Visits int64  `json:"visits"`
	} `json:"days"`
}

// TestWebStatsInLoghost: an access log shipped by a collector with a
// site is aggregated by the loghost into the same months the offline
// `watchpost stats` computes from the file; shipping it all again (the
// collector lost its checkpoints) counts nothing twice; the admin's month
// page draws its charts in real headless Chromium.
func TestWebStatsInLoghost(t *testing.T) {
	peers.Require(t, "chromium")
	dir := t.TempDir()
	logFile := filepath.Join(dir, "access.log")
	var buf bytes.Buffer
	if err := webstatsfixture.Generate(&buf, webstatsfixture.Config{Lines: 20000, Start: time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC), Span: 6 * 24 * time.Hour, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(logFile, buf.Bytes(), 0o644)

	// What the offline report says.
	out, errOut, rc := runCmd(t, "stats", "-site", "wiki.example.org", "-format", "json", "-tz", "UTC", logFile)
	if rc != 0 {
		t.Fatalf("stats: %d %s", rc, errOut)
	}
	var offline []statsReport
	if err := json.Unmarshal([]byte(out), &offline); err != nil {
		var one statsReport
		if err2 := json.Unmarshal([]byte(out), &one); err2 != nil {
			t.Fatalf("stats output: %v: %.300s", err, out)
		}
		offline = []statsReport{one}
	}
	if len(offline) != 2 {
		t.Fatalf("offline months: %d", len(offline))
	}

	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), adminUser: true, extra: "timezone: UTC\nwebstats:\n  sites:\n    - {name: wiki.example.org, aliases: [wiki]}\n"}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("token-web1\n"), 0o600)
	// ship sends file as site wiki, from a collector whose checkpoints
	// are in state.
	ship := func(state, file string) {
		t.Helper()
		if out, errOut, rc := runCmd(t, "collect", "-once", "-metrics=false", "-munin-plugins=none", "-journal=false", "-server", base, "-token-file", tok,
			"-state", filepath.Join(dir, state), "-file", file+",format=combined,site=wiki"); rc != 0 {
			t.Fatalf("collect: %d %s %s", rc, out, errOut)
		}
	}
	ship("c1", logFile)
	check := func() {
		t.Helper()
		for _, want := range offline {
			var got statsReport
			peers.Eventually(t, 30*time.Second, func() bool {
				return adminGet(t, base, "/api/v1/webstats/wiki.example.org/"+want.Month, &got) == 200 && got.Totals.Hits == want.Totals.Hits
			})
			if got.Totals != want.Totals {
				t.Errorf("%s: loghost %+v, offline %+v", want.Month, got.Totals, want.Totals)
			}
			if len(got.Days) != len(want.Days) {
				t.Errorf("%s: %d days, offline %d", want.Month, len(got.Days), len(want.Days))
			}
		}
	}
	check()
	ship("c2", logFile) // a collector without checkpoints sends everything again
	time.Sleep(2 * time.Second)
	check()

	// The stored months from the command line equal the offline report
	// of the same file, table for table.
	adminTok := filepath.Join(dir, "admin.token")
	os.WriteFile(adminTok, []byte("e2e-admin-token-0123\n"), 0o600)
	stored, errOut, rc := runCmd(t, "stats", "-server", base, "-token-file", adminTok, "-site", "wiki.example.org", "-month", "all", "-format", "json")
	if rc != 0 {
		t.Fatalf("stats -server: %d %s", rc, errOut)
	}
	if stored != out {
		t.Errorf("stats -server differs from the offline report (%d and %d bytes)", len(stored), len(out))
	}

	// SIGHUP with the site's own definitions: a new month is built with them.
	lc.extra = "timezone: UTC\nwebstats:\n  sites:\n    - {name: wiki.example.org, aliases: [wiki], definitions: {hit_codes: [200, 206, 304]}}\n"
	lc.write(t)
	lh.cmd.Process.Signal(syscall.SIGHUP)
	peers.Eventually(t, 10*time.Second, func() bool { return strings.Contains(lh.out.String(), "configuration reloaded") })
	late := filepath.Join(dir, "november.log")
	os.WriteFile(late, []byte(`192.0.2.7 - - [02/Nov/2026:10:00:00 +0000] "GET /files/watchpost-1.0.iso HTTP/1.1" 206 5000 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"`+"\n"), 0o644)
	ship("c3", late)
	var nov struct {
		Definitions string `json:"definitions"`
		HitCodes    []int  `json:"hit_codes"`
		Totals      statsTotals
	}
	peers.Eventually(t, 30*time.Second, func() bool {
		return adminGet(t, base, "/api/v1/webstats/wiki.example.org/2026-11", &nov) == 200
	})
	if nov.Definitions != "custom" || len(nov.HitCodes) != 3 || nov.Totals.Hits != 1 {
		t.Errorf("November after SIGHUP: %+v", nov)
	}

	b := peers.StartBrowser(t, 1280, 1000)
	b.Navigate(base + "/admin/login")
	submitLogin(b)
	b.WaitFor(`location.pathname === "/admin/" && document.readyState === "complete"`, 20*time.Second)
	b.Navigate(base + "/admin/webstats/wiki.example.org/" + offline[1].Month)
	b.WaitFor(`document.getElementById("days-chart") && document.getElementById("days-chart").dataset.drawn`, 20*time.Second)
	if got := string(b.Eval(`document.getElementById("days-chart").dataset.drawn`)); got == `"error"` || got == `"0"` {
		t.Errorf("days chart: %s", got)
	}
	if got := string(b.Eval(`document.querySelectorAll("#days-chart canvas").length > 0`)); got != "true" {
		t.Error("no chart canvas")
	}
	// The year's months: September, October and November.
	b.WaitFor(`document.getElementById("months-chart") && document.getElementById("months-chart").dataset.drawn`, 20*time.Second)
	if got := string(b.Eval(`document.getElementById("months-chart").dataset.drawn`)); got != `"4"` {
		t.Errorf("months chart: %s rows, want 3 months and the closing step", got)
	}
	shots := os.Getenv("WATCHPOST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if n := b.Screenshot(filepath.Join(shots, "webstats-month.png")); n < 20000 {
		t.Errorf("screenshot only %d bytes", n)
	}
	if t.Failed() {
		t.Logf("loghost output:\n%s", lh.out.String())
	}
}
