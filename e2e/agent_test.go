package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgentBuild: `CGO_ENABLED=0 go build -tags agent` gives the host agent alone. It
// ships to a loghost of the full build like the full binary does, and says
// plainly that the loghost's commands are not in it.
func TestAgentBuild(t *testing.T) {
	dir := t.TempDir()
	agent := filepath.Join(dir, "watchpost-agent")
	build := exec.Command("go", "build", "-tags", "agent", "-o", agent, "../cmd/watchpost")
	// Static: the agent stores nothing in SQLite, so it needs no cgo
	// and runs on any Linux host as one file.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	full, _ := os.Stat(binary)
	small, _ := os.Stat(agent)
	t.Logf("binary sizes: full %d bytes, agent %d bytes", full.Size(), small.Size())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, agent, "serve").CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "agent build") {
		t.Errorf("agent serve: exit %d, output %q; want 2 and a word that this is the agent build", code, out)
	}
	if out, err := exec.CommandContext(ctx, agent, "hoststat").CombinedOutput(); err != nil || !strings.Contains(string(out), "multigraph") {
		t.Errorf("agent hoststat: %v\n%.300s", err, out)
	}

	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("token-web1\n"), 0o600)
	logFile := filepath.Join(dir, "app.log")
	var b strings.Builder
	const n = 1000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "agentbuild n=%04d shipped by the small binary\n", i)
	}
	os.WriteFile(logFile, []byte(b.String()), 0o644)
	cmd := exec.CommandContext(ctx, agent, "collect", "-once", "-metrics=false", "-munin-plugins=none",
		"-server", base, "-token-file", tok, "-state", filepath.Join(dir, "collector"), "-journal=false", "-file", logFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("agent collect -once: %v\n%s", err, out)
	}
	var seen map[string]int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if seen = countLines(t, dir, "agentbuild"); len(seen) >= n {
			break
		}
	}
	for i := 0; i < n; i++ {
		if line := fmt.Sprintf("agentbuild n=%04d shipped by the small binary", i); seen[line] != 1 {
			t.Fatalf("line %d stored %d times (%d distinct lines stored)", i, seen[line], len(seen))
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
