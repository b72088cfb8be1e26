package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func postIngest(t testing.TB, base, token, host string, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/ingest", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if host != "" {
		req.Header.Set("X-Watchpost-Host", host)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer %d not JSON: %q", resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// The first README command: no config at all. The loghost makes its
// tokens, prints where everything is, accepts a collector's batch with the
// generated token, and grep finds it locally and remotely.
func TestServeEmbeddedDefaults(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	// -data and -listen only: everything else is the embedded default
	// (syslog on 127.0.0.1:5514 may be taken on a busy machine; the test
	// only needs HTTP).
	lh := startLoghost(t, "-data", filepath.Join(dir, "data"), "-listen", fmt.Sprintf("127.0.0.1:%d", port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	lh.waitReady(base)
	for _, f := range []string{"admin.token", "collector.token", "watchpost.db"} {
		fi, err := os.Stat(filepath.Join(dir, "data", f))
		if err != nil {
			t.Fatalf("first start did not create %s: %v", f, err)
		}
		if strings.HasSuffix(f, ".token") && fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v", f, fi.Mode().Perm())
		}
	}
	out := lh.out.String()
	for _, want := range []string{"collector.token", "admin.token", "watchpost collect -server", "/api/v1/ingest"} {
		if !strings.Contains(out, want) {
			t.Fatalf("banner does not say %q:\n%s", want, out)
		}
	}
	tokB, _ := os.ReadFile(filepath.Join(dir, "data", "collector.token"))
	code, ans := postIngest(t, base, strings.TrimSpace(string(tokB)), "web7",
		`{"source":"file:/var/log/auth.log","gen":"g","offset":0,"line":"Nov 22 10:00:00 web7 sshd[4242]: Failed password for root from 203.0.113.9 port 2222 ssh2"}`+"\n"+
			`{"source":"file:/var/log/auth.log","gen":"g","offset":97,"line":"Nov 22 10:00:01 web7 sshd[4242]: Connection closed by 203.0.113.9 port 2222"}`+"\n")
	if code != 200 || ans["stored"].(float64) != 2 {
		t.Fatalf("ingest: %d %v", code, ans)
	}
	ctx := context.Background()
	stdout, stderr, rc := run(t, ctx, "", "grep", "-data", filepath.Join(dir, "data"), "host=web7", "program=sshd", "failed")
	if rc != 0 || !strings.Contains(stdout, "Failed password for root") || strings.Contains(stdout, "Connection closed") {
		t.Fatalf("local grep: rc %d\n%s\n%s", rc, stdout, stderr)
	}
	admin, _ := os.ReadFile(filepath.Join(dir, "data", "admin.token"))
	tokFile := filepath.Join(dir, "admin.tok")
	os.WriteFile(tokFile, admin, 0o600)
	stdout, stderr, rc = run(t, ctx, "", "grep", "-server", base, "-token-file", tokFile, "-o", "json", "-C", "1", "failed")
	if rc != 0 {
		t.Fatalf("remote grep: rc %d %s", rc, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("remote grep -C 1 gave %d lines:\n%s", len(lines), stdout)
	}
	var ev map[string]any
	json.Unmarshal([]byte(lines[0]), &ev)
	if ev["host"] != "web7" || ev["program"] != "sshd" || ev["pid"] != "4242" {
		t.Fatalf("event: %v", ev)
	}
	// No match: exit 1, as grep(1).
	if _, _, rc := run(t, ctx, "", "grep", "-data", filepath.Join(dir, "data"), "no-such-thing-anywhere"); rc != 1 {
		t.Fatalf("no match gave rc %d", rc)
	}
	// A wrong admin token is refused with a JSON error.
	os.WriteFile(tokFile, []byte("wrong"), 0o600)
	if _, stderr, rc := run(t, ctx, "", "grep", "-server", base, "-token-file", tokFile, "x"); rc != 2 || !strings.Contains(stderr, "401") {
		t.Fatalf("wrong token: rc %d %s", rc, stderr)
	}
	// The API needs authentication; /healthz does not.
	resp, _ := http.Get(base + "/api/v1/logs?q=x")
	if resp.StatusCode != 401 {
		t.Fatalf("unauthenticated /api/v1/logs: %d", resp.StatusCode)
	}
	resp.Body.Close()
	lh.stop()
	if !strings.Contains(lh.out.String(), "stopped") {
		t.Fatalf("no clean stop:\n%s", lh.out.String())
	}
}

func TestGrepFollow(t *testing.T) {
	dir := t.TempDir()
	c := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := c.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", c.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	tokFile := filepath.Join(dir, "admin.tok")
	os.WriteFile(tokFile, []byte("e2e-admin-token-0123\n"), 0o600)
	for _, mode := range [][]string{{"-server", base, "-token-file", tokFile}, {"-data", dir}} {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		cmd := exec.CommandContext(ctx, binary, append(append([]string{"grep"}, mode...), "-f", "follow-me")...)
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The follower shows what arrives after it started: send probe
		// lines until it shows one (a busy machine starts it slowly).
		for i := 0; !strings.Contains(out.String(), "follow-me probe"); i++ {
			if i == 300 {
				t.Fatalf("grep -f %v never started following:\n%s", mode, out.String())
			}
			postIngest(t, base, "token-web1", "", fmt.Sprintf(`{"line":"follow-me probe %d"}`+"\n", i))
			time.Sleep(100 * time.Millisecond)
		}
		body := ""
		for i := 0; i < 5; i++ {
			body += fmt.Sprintf(`{"line":"follow-me %s %d"}`+"\n", mode[0], i)
			body += fmt.Sprintf(`{"line":"not this one %d"}`+"\n", i)
		}
		if code, ans := postIngest(t, base, "token-web1", "", body); code != 200 {
			t.Fatalf("ingest %d %v", code, ans)
		}
		deadline := time.Now().Add(15 * time.Second)
		want := "follow-me " + mode[0]
		for time.Now().Before(deadline) && strings.Count(out.String(), want) < 5 {
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		cancel()
		got := out.String()
		if strings.Count(got, want) != 5 || strings.Contains(got, "not this one") {
			t.Fatalf("grep -f %v printed:\n%s", mode, got)
		}
	}
}

func TestConfigCheckAndBackup(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("server:\n  lisen: 127.0.0.1:8080\nstorage:\n  retention: 5 minutes\n"), 0o600)
	_, stderr, rc := run(t, context.Background(), "", "config", "check", bad)
	if rc == 0 || !strings.Contains(stderr, "bad.yml:2") || !strings.Contains(stderr, "lisen") || !strings.Contains(stderr, "bad.yml:4") {
		t.Fatalf("config check: rc %d\n%s", rc, stderr)
	}
	c := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := c.write(t)
	if stdout, stderr, rc := run(t, context.Background(), "", "config", "check", cfg); rc != 0 {
		t.Fatalf("good config: rc %d %s %s", rc, stdout, stderr)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", c.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	var body bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&body, `{"line":"backup line %d"}`+"\n", i)
	}
	if code, _ := postIngest(t, base, "token-web1", "", body.String()); code != 200 {
		t.Fatal(code)
	}
	dest := filepath.Join(dir, "copy.db")
	if stdout, stderr, rc := run(t, context.Background(), "", "backup", "-db", filepath.Join(dir, "watchpost.db"), dest); rc != 0 {
		t.Fatalf("backup: %d %s %s", rc, stdout, stderr)
	}
	copyDir := filepath.Join(dir, "copydata")
	os.MkdirAll(copyDir, 0o755)
	os.Rename(dest, filepath.Join(copyDir, "watchpost.db"))
	stdout, _, rc := run(t, context.Background(), "", "grep", "-data", copyDir, "backup line")
	if rc != 0 || strings.Count(stdout, "\n") != 1000 {
		t.Fatalf("the backup holds %d lines", strings.Count(stdout, "\n"))
	}
	// version
	if stdout, _, rc := run(t, context.Background(), "", "version"); rc != 0 || !strings.HasPrefix(stdout, "watchpost ") {
		t.Fatalf("version: %q", stdout)
	}
	// SIGHUP with a broken file keeps the old config running.
	os.WriteFile(cfg, []byte("server: [this is not\n"), 0o600)
	lh.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if code, _ := postIngest(t, base, "token-web1", "", `{"line":"after bad reload"}`+"\n"); code != 200 {
		t.Fatalf("after a bad reload the old tokens should still work: %d", code)
	}
	if !strings.Contains(lh.out.String(), "keeping the old") {
		t.Fatalf("bad reload not reported:\n%s", lh.out.String())
	}
}
