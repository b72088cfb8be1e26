package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestRedaction: secrets in lines are masked before anything is stored,
// by the built-in patterns, whichever way the line arrives.
func TestRedaction(t *testing.T) {
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	body := `{"source":"file:/var/log/app.log","gen":"g","offset":0,"line":"redactme fetch https://bob:hunter2@git.example.org/repo.git"}
{"source":"file:/var/log/app.log","gen":"g","offset":100,"line":"redactme login user=bob password=hunter2 ok"}
`
	if code, m := postIngest(t, base, "token-web1", "", body); code != 200 {
		t.Fatalf("ingest: %d %v", code, m)
	}
	out, _, rc := runCmd(t, "grep", "-data", dir, "redactme")
	if rc != 0 {
		t.Fatalf("grep rc %d", rc)
	}
	if strings.Contains(out, "hunter2") {
		t.Fatalf("a password was stored:\n%s", out)
	}
	if !strings.Contains(out, "https://bob:***@git.example.org") || !strings.Contains(out, "password=***") {
		t.Errorf("not masked as expected:\n%s", out)
	}
}
