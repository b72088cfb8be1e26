package e2e

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRuleCommandsBurst: a burst of 10,000 lines, each starting a child
// (exec), through the loghost, stopped and started again in the middle:
// every one of the 10,000 commands runs, and the queue ends empty.
func TestRuleCommandsBurst(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	os.Mkdir(out, 0o755)
	ruleFile := filepath.Join(dir, "burst.conf")
	os.WriteFile(ruleFile, []byte(fmt.Sprintf(`'job ([0-9]+) done' - - - 0 exec "/usr/bin/touch %s/$2"`+"\n", out)), 0o600)
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t),
		extra: "rules:\n  - file: " + ruleFile + "\n"}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	offset := 0
	send := func(from, to int) {
		for i := from; i < to; i += 1000 {
			var b strings.Builder
			for j := i; j < min(i+1000, to); j++ {
				fmt.Fprintf(&b, `{"source":"file:/var/log/jobs.log","gen":"g","offset":%d,"line":"job %05d done"}`+"\n", offset, j)
				offset += 20
			}
			if code, m := postIngest(t, base, "token-web1", "", b.String()); code != 200 {
				t.Fatalf("ingest %d %v", code, m)
			}
		}
	}
	count := func() int {
		es, _ := os.ReadDir(out)
		return len(es)
	}
	send(0, n/2)
	// Stop while commands are still queued or running: the rest run
	// after the start.
	for deadline := time.Now().Add(60 * time.Second); count() == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	lh.stop()
	t.Logf("%d of %d ran before the restart", count(), n/2)
	lh = startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	send(n/2, n)
	deadline := time.Now().Add(10 * time.Minute)
	for count() < n && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if got := count(); got != n {
		t.Fatalf("%d of %d commands ran\n%s", got, n, lh.out.String())
	}
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "watchpost.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var left int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		db.QueryRow(`SELECT count(*) FROM rule_actions`).Scan(&left)
		if left == 0 {
			break
		}
	}
	if left != 0 {
		t.Errorf("%d commands left in the queue after all ran", left)
	}
	var incidents int
	db.QueryRow(`SELECT count(*) FROM incidents WHERE source = 'loghost'`).Scan(&incidents)
	if incidents != 0 {
		t.Errorf("%d loghost incidents: nothing was lost", incidents)
	}
}

// TestRuleCommandsOfTimedOutContexts: a context that times out while no
// line comes fires its report from the loghost's clock tick: the command
// is queued and runs.
func TestRuleCommandsOfTimedOutContexts(t *testing.T) {
	dir := t.TempDir()
	fired := filepath.Join(dir, "fired")
	ruleFile := filepath.Join(dir, "ctx.conf")
	os.WriteFile(ruleFile, []byte(fmt.Sprintf(`'session ([0-9]+) start' - - - 0 open "session $2 " - 0 0 1 report "/usr/bin/touch %s" -`+"\n", fired)), 0o600)
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t),
		extra: "rules:\n  - file: " + ruleFile + "\n"}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	body := `{"source":"file:/var/log/app.log","gen":"g","offset":0,"line":"session 7 start"}` + "\n"
	if code, m := postIngest(t, base, "token-web1", "", body); code != 200 {
		t.Fatalf("ingest %d %v", code, m)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(fired); err == nil {
			return
		}
	}
	t.Fatalf("the timed-out context's report never ran\n%s", lh.out.String())
}
