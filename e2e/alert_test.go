package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupFailureEmail is the wish list's first line: "email us when a
// nightly backup fails". The backup job reports exit status 1 to its
// heartbeat URL; the admins get one email saying so, through a real SMTP
// server (Debian's smtp-sink, from postfix).
func TestBackupFailureEmail(t *testing.T) {
	sink := need(t, "smtp-sink", "postfix")
	mailDir, err := os.MkdirTemp("", "watchpost-e2e-mail-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(mailDir) })
	os.Chmod(mailDir, 0o777) // smtp-sink writes as nobody
	smtpPort := freePort(t)
	cmd := exec.Command(sink, "-u", "nobody", "-d", mailDir+"/%M.", "-c", fmt.Sprintf("127.0.0.1:%d", smtpPort), "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", smtpPort)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("smtp-sink did not start")
		}
	}
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`heartbeats:
  - {name: nightly-backup, id: 5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42, period: 24h, grace: 2h}
alerting:
  email: {smtp: "127.0.0.1:%d", tls: none, from: watchpost@example.test, to: [admins@example.test]}
`, smtpPort)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	resp, err := http.Post(base+"/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42/1", "text/plain", strings.NewReader("rsync: connection unexpectedly closed"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ping: %v %v", err, resp)
	}
	resp.Body.Close()
	var mail string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && mail == ""; time.Sleep(200 * time.Millisecond) {
		ents, _ := os.ReadDir(mailDir)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(mailDir, e.Name()))
			mail += string(b)
		}
	}
	if mail == "" {
		t.Fatalf("no email arrived\n%s", lh.out.String())
	}
	for _, want := range []string{"Subject: [watchpost] nightly-backup (incident #1)", "nightly-backup is DOWN", "the job exited with status 1", "To: <admins@example.test>"} {
		if !strings.Contains(mail, want) {
			t.Errorf("the email lacks %q:\n%s", want, mail)
		}
	}
}

// TestWatchdog: a loghost pings another loghost's heartbeat URL, so the
// second one can say when the first one died.
func TestWatchdog(t *testing.T) {
	dirB := t.TempDir()
	lcB := loghostConfig{dir: dirB, httpPort: freePort(t), syslogPort: freePort(t), extra: `heartbeats:
  - {name: loghost-a, id: 0d3e8b7f-1c42-4c55-9a57-5b1c2e0a2f6e, period: 5m, grace: 1m, public: true}
`}
	baseB := fmt.Sprintf("http://127.0.0.1:%d", lcB.httpPort)
	lhB := startLoghost(t, "-config", lcB.write(t))
	lhB.waitReady(baseB)
	dirA := t.TempDir()
	lcA := loghostConfig{dir: dirA, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`alerting:
  watchdog_url: %s/ping/0d3e8b7f-1c42-4c55-9a57-5b1c2e0a2f6e
  watchdog_every: 1s
`, baseB)}
	baseA := fmt.Sprintf("http://127.0.0.1:%d", lcA.httpPort)
	lhA := startLoghost(t, "-config", lcA.write(t))
	lhA.waitReady(baseA)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(baseB + "/api/v1/status")
		if err == nil {
			var v map[string]any
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if componentStatus(v, "loghost-a") == "up" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("loghost B never heard from A\nA:\n%s", lhA.out.String())
		}
	}
}
