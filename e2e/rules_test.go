package e2e

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// TestRulesInTheLoghost: a logsurfer-style rule file runs on the
// loghost's event stream: a threshold rule raises one alert into the
// outbox after the fifth failure from one address (syslog rendered the
// traditional way for the rules), an echo writes to a file, and the
// threshold window survives a restart.
func TestRulesInTheLoghost(t *testing.T) {
	dir := t.TempDir()
	echoFile := filepath.Join(dir, "echo.out")
	ruleFile := filepath.Join(dir, "sshd.conf")
	os.WriteFile(ruleFile, []byte(fmt.Sprintf(`'sshd\[[0-9]+\]: Failed password for (invalid user )?([^ ]+) from ([0-9.]+) port' - - - 0 continue
	threshold 5 10m by $4 alert warning "ssh brute force from $4" service=ssh
'Accepted publickey for ([a-z]+)' - - - 0 echo >>%s "login by $2"
`, echoFile)), 0o600)
	// A second file sees only cron's lines: its echo must never fire.
	cronFile, cronEcho := filepath.Join(dir, "cron.conf"), filepath.Join(dir, "cron.out")
	os.WriteFile(cronFile, []byte(fmt.Sprintf("'Accepted' - - - 0 echo >>%s \"wrong file\"\n", cronEcho)), 0o600)
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t),
		extra: "rules:\n  - file: " + ruleFile + "\n  - {file: " + cronFile + ", programs: [cron]}\n"}
	cfg := lc.write(t)
	if out, errOut, rc := runCmd(t, "config", "check", cfg); rc != 0 {
		t.Fatalf("config check: %s %s", out, errOut)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	offset := 0
	send := func(lines ...string) {
		var b strings.Builder
		for _, l := range lines {
			fmt.Fprintf(&b, `{"source":"file:/var/log/auth.log","gen":"g","offset":%d,"line":%q}`+"\n", offset, l)
			offset += 200
		}
		if code, m := postIngest(t, base, "token-web1", "", b.String()); code != 200 {
			t.Fatalf("ingest %d %v", code, m)
		}
	}
	fail := func(i int) string {
		return fmt.Sprintf("Nov 25 10:00:%02d web1 sshd[%d]: Failed password for invalid user admin from 192.0.2.66 port %d ssh2", i, 100+i, 40000+i)
	}
	send(fail(1), fail(2), fail(3), "Nov 25 10:00:04 web1 sshd[9]: Accepted publickey for alice from 192.0.2.1 port 2 ssh2")
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "watchpost.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	alerts := func() int {
		var n int
		db.QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'rule_alert'`).Scan(&n)
		return n
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("%s never happened\n%s", what, lh.out.String())
	}
	eventually("echo to a file", func() bool { b, _ := os.ReadFile(echoFile); return string(b) == "login by alice\n" })
	if alerts() != 0 {
		t.Fatal("alert before the threshold")
	}
	if _, err := os.Stat(cronEcho); err == nil {
		t.Error("a rule file limited to cron saw an sshd line")
	}
	// Three failures are in the window; a restart must not forget them.
	eventually("the rules consumer caught up", func() bool {
		var cur int64
		db.QueryRow(`SELECT seq FROM cursors WHERE name = 'rules'`).Scan(&cur)
		return cur >= 4
	})
	lh.stop()
	lh = startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	send(fail(5), fail(6))
	eventually("one alert after the fifth failure", func() bool { return alerts() == 1 })
	var payload string
	db.QueryRow(`SELECT payload FROM outbox WHERE kind = 'rule_alert'`).Scan(&payload)
	if !strings.Contains(payload, "ssh brute force from 192.0.2.66") || !strings.Contains(payload, `"service":"ssh"`) {
		t.Errorf("alert payload %s", payload)
	}
	// A broken rule file on SIGHUP keeps the running rules.
	os.WriteFile(ruleFile, []byte("'unclosed - - - 0 ignore\n"), 0o600)
	lh.cmd.Process.Signal(syscall.SIGHUP)
	eventually("the bad rules refused", func() bool { return strings.Contains(lh.out.String(), "rule files have errors; keeping the old") })
	send("Nov 25 10:01:00 web1 sshd[9]: Accepted publickey for bob from 192.0.2.1 port 2 ssh2")
	eventually("the old rules still running", func() bool { b, _ := os.ReadFile(echoFile); return strings.Contains(string(b), "login by bob") })
	// Hit counts are kept in the store, across the restart.
	var hits int
	db.QueryRow(`SELECT hits FROM rule_hits WHERE file = ? AND line = 1`, ruleFile).Scan(&hits)
	if hits != 1 {
		t.Errorf("rule 1 hits in the store = %d, want 1 (the threshold fired once)", hits)
	}
}
