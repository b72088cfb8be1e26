package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// need finds a real peer program; a missing one skips on a laptop and
// fails under CI=true.
func need(t testing.TB, prog, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(prog); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		if p := filepath.Join(d, prog); fileExists(p) {
			return p
		}
	}
	peers.Unavailable(t, "%s not found (Debian package %s): scripts/install-peers.sh installs it", prog, pkg)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Real rsyslog forwards to the loghost over UDP in its default format,
// TCP with LF framing, and TCP with RFC 5424 and octet counting; logger
// sends RFC 5424 octet-counted itself. Every line arrives parsed with its
// host, program, pid and time, and grep finds it.
func TestRsyslogForwarding(t *testing.T) {
	rsyslogd := need(t, "rsyslogd", "rsyslog")
	logger := need(t, "logger", "bsdutils")
	dir := t.TempDir()
	c := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := c.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", c.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)

	modes := []struct{ tag, action string }{
		{"e2eudp", fmt.Sprintf(`action(type="omfwd" target="127.0.0.1" port="%d" protocol="udp")`, c.syslogPort)},
		{"e2etcplf", fmt.Sprintf(`action(type="omfwd" target="127.0.0.1" port="%d" protocol="tcp")`, c.syslogPort)},
		{"e2etcp5424", fmt.Sprintf(`action(type="omfwd" target="127.0.0.1" port="%d" protocol="tcp" template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted")`, c.syslogPort)},
	}
	work := filepath.Join(dir, "rsyslog-work")
	os.MkdirAll(work, 0o755)
	conf := fmt.Sprintf("global(workDirectory=%q)\nmodule(load=\"imudp\")\n", work)
	inPorts := make([]int, len(modes))
	for i, m := range modes {
		inPorts[i] = freePort(t)
		conf += fmt.Sprintf("input(type=\"imudp\" address=\"127.0.0.1\" port=\"%d\" ruleset=\"r%d\")\nruleset(name=\"r%d\") {\n  %s\n}\n", inPorts[i], i, i, m.action)
	}
	confPath := filepath.Join(dir, "rsyslog.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	rs := exec.Command(rsyslogd, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslog.pid"))
	var rsOut syncBuffer
	rs.Stdout, rs.Stderr = &rsOut, &rsOut
	rs.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-rs.Process.Pid, syscall.SIGKILL); rs.Wait() }()
	time.Sleep(700 * time.Millisecond) // rsyslog opens its inputs

	hostname, _ := os.Hostname()
	sent := time.Now()
	ctx := context.Background()
	for i, m := range modes {
		msg := fmt.Sprintf("hello from %s via rsyslog", m.tag)
		if out, err := exec.Command(logger, "-d", "-n", "127.0.0.1", "-P", fmt.Sprint(inPorts[i]), "-t", m.tag, "--id=4242", msg).CombinedOutput(); err != nil {
			t.Fatalf("logger: %v %s", err, out)
		}
	}
	// logger straight to the loghost: RFC 5424 with octet counting over TCP.
	if out, err := exec.Command(logger, "--rfc5424", "--octet-count", "-T", "-n", "127.0.0.1", "-P", fmt.Sprint(c.syslogPort),
		"-t", "e2elogger", "--id=4343", "--sd-id", "origin@32473", "--sd-param", `ip="192.0.2.1"`, "direct hello").CombinedOutput(); err != nil {
		t.Fatalf("logger: %v %s", err, out)
	}
	want := map[string]string{"e2eudp": "4242", "e2etcplf": "4242", "e2etcp5424": "4242", "e2elogger": "4343"}
	deadline := time.Now().Add(20 * time.Second)
	got := map[string]map[string]any{}
	for time.Now().Before(deadline) && len(got) < len(want) {
		stdout, _, _ := run(t, ctx, "", "grep", "-data", dir, "-o", "json", "hello")
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil {
				if p, _ := ev["program"].(string); want[p] != "" {
					got[p] = ev
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for prog, pid := range want {
		ev, ok := got[prog]
		if !ok {
			t.Errorf("%s: nothing arrived (have %v)\nloghost:\n%s\nrsyslog:\n%s", prog, keys(got), lh.out.String(), rsOut.String())
			continue
		}
		if ev["pid"] != pid {
			t.Errorf("%s: pid %v, want %s", prog, ev["pid"], pid)
		}
		if h, _ := ev["host"].(string); !strings.EqualFold(strings.Split(h, ".")[0], strings.Split(hostname, ".")[0]) {
			t.Errorf("%s: host %q, want %q", prog, h, hostname)
		}
		ts, _ := time.Parse(time.RFC3339Nano, ev["time"].(string))
		if d := ts.Sub(sent); d < -2*time.Second || d > 10*time.Second {
			t.Errorf("%s: time %v is %v from when it was sent", prog, ts, d)
		}
	}
	if ev := got["e2elogger"]; ev != nil {
		f, _ := ev["fields"].(map[string]any)
		if f["sd.origin@32473.ip"] != "192.0.2.1" {
			t.Errorf("structured data not parsed: %v", ev["fields"])
		}
	}
}

func keys(m map[string]map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
