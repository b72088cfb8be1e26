package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestZonelessTimesBelongToTheirHost: a time without a zone (RFC 3164
// syslog, a file line) is read in the zone of the host that wrote it, not
// in the zone the loghost displays. The loghost runs with TZ=UTC and
// `timezone: Europe/Berlin`; "Dec  7 07:23:38" used to be stored as
// 06:23:38Z. Now: a collector's lines in the collector's zone (it says
// which), a syslog sender's in its host's or network's configured zone,
// else in the loghost's own zone.
func TestZonelessTimesBelongToTheirHost(t *testing.T) {
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	write := func(senders string) string {
		lc.extra = `timezone: Europe/Berlin
` + senders
		path := lc.write(t)
		b, _ := os.ReadFile(path)
		// A host that only sends syslog needs no token, only its zone.
		os.WriteFile(path, []byte(strings.Replace(string(b), "hosts:\n", "hosts:\n  router: {timezone: America/New_York}\n", 1)), 0o600)
		return path
	}
	cfg := write("sender_timezones:\n  - {network: 127.0.0.0/8, timezone: Asia/Tokyo}\n")
	t.Setenv("TZ", "UTC") // the loghost's own zone
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)

	send := func(line string) {
		c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", lc.syslogPort))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(word string) time.Time {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			out, _, rc := runCmd(t, "grep", "-data", dir, "-o", "json", word)
			if rc != 0 {
				continue
			}
			var ev struct{ Time time.Time }
			if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &ev); err != nil {
				t.Fatal(err)
			}
			return ev.Time.UTC()
		}
		t.Fatalf("%s never stored:\n%s", word, lh.out.String())
		return time.Time{}
	}
	clock := func(tm time.Time) string { return tm.Format("Jan _2 15:04:05") }

	// Syslog: by host name (New York, -5 in December), by network (Tokyo, +9).
	send("<38>Dec  7 07:23:38 router sshd[1]: Accepted password for root tzrouter")
	send("<38>Dec  7 07:23:38 other sshd[1]: Accepted password for root tznetwork")
	if got := clock(stored("tzrouter")); got != "Dec  7 12:23:38" {
		t.Errorf("router (America/New_York) stored at %s UTC, want Dec  7 12:23:38", got)
	}
	if got := clock(stored("tznetwork")); got != "Dec  6 22:23:38" {
		t.Errorf("a sender in 127.0.0.0/8 (Asia/Tokyo) stored at %s UTC, want Dec  6 22:23:38", got)
	}
	// Without a zone for its network, a sender's clock is the loghost's own
	// zone (UTC here), not the display zone (Berlin).
	write("")
	lh.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(lh.out.String(), "configuration reloaded") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	send("<38>Dec  7 07:23:38 other sshd[1]: Accepted password for root tzdefault")
	if got := clock(stored("tzdefault")); got != "Dec  7 07:23:38" {
		t.Errorf("a sender without a configured zone stored at %s UTC, want the loghost's own zone: Dec  7 07:23:38", got)
	}

	// A collector says its zone: Asia/Kolkata (+5:30), and UTC.
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("token-web1\n"), 0o600)
	for _, tc := range []struct{ tz, word, want string }{
		{"Asia/Kolkata", "tzkolkata", "Dec  7 01:53:38"},
		{"UTC", "tzutc", "Dec  7 07:23:38"},
	} {
		logFile := filepath.Join(dir, tc.word+".log")
		os.WriteFile(logFile, []byte("Dec  7 07:23:38 web1 sshd[23103]: Accepted password for root "+tc.word+"\n"), 0o644)
		t.Setenv("TZ", tc.tz)
		out, errOut, rc := runCmd(t, "collect", "-once", "-metrics=false", "-munin-plugins=none", "-server", base, "-token-file", tok,
			"-host", "vm", "-state", filepath.Join(dir, "c-"+tc.word), "-journal=false", "-file", logFile)
		if rc != 0 {
			t.Fatalf("collect: rc %d\n%s%s", rc, out, errOut)
		}
		// Its host token files the data as web1, whatever the host calls
		// itself: the log says web1, never host=vm.
		if !strings.Contains(errOut, `msg="the loghost files this host's data" component=collect host=web1`) || strings.Contains(errOut, " host=vm") {
			t.Errorf("the collector's log does not name the host its data is filed under:\n%s", errOut)
		}
		if got := clock(stored(tc.word)); got != tc.want {
			t.Errorf("a collector in %s: stored at %s UTC, want %s", tc.tz, got, tc.want)
		}
	}
	lh.stop()
}
