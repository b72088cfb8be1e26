package alerting

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/store"
)

// smtpSink starts Debian's smtp-sink (from postfix) on a loopback port,
// dumping every message it accepts into a folder.
func smtpSink(t *testing.T, port int) (dir string, stop func()) {
	t.Helper()
	paths := peers.Require(t, "smtp-sink")
	// It writes as nobody, who must reach the folder: not a TempDir under
	// the test's 0700 one.
	dir, err := os.MkdirTemp("", "watchpost-smtp-sink-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd := exec.Command(paths["smtp-sink"], "-u", "nobody", "-d", dir+"/%M.", "-c", peers.Addr(port), "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			cmd.Process.Kill()
			cmd.Wait()
			stopped = true
		}
	}
	t.Cleanup(stop)
	peers.WaitTCP(t, peers.Addr(port), 10*time.Second)
	return dir, stop
}

func messages(dir string) []string {
	var out []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// TestEmailThreadedAndNothingLost: an outage and its recovery go out as
// two emails threaded by In-Reply-To/References under one subject; with
// the mail server down at first, they wait in the outbox and are
// delivered when it is back; a check's first state sends nothing.
func TestEmailThreadedAndNothingLost(t *testing.T) {
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	port := peers.FreePort(t)
	em, err := NewEmail(EmailConfig{SMTP: peers.Addr(port), TLS: "none", From: "watchpost@example.test", To: []string{"admins@example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	d := New(s.DB(), Config{Email: em, Hostname: "loghost.example.test", Now: func() time.Time { return clock }})
	ctx := context.Background()
	for i, kp := range [][2]string{
		{"check_up", `{"check":"nightly-backup","from":"unknown","to":"up","since":"2026-11-24T02:00:00Z"}`},
		{"check_down", `{"check":"nightly-backup","from":"up","to":"down","since":"2026-11-25T02:00:00Z","detail":"no ping since 2026-11-24T02:40:00Z","incident":7}`},
		{"check_up", `{"check":"nightly-backup","from":"down","to":"up","since":"2026-11-25T02:55:00Z","incident":7}`},
		{"rule_alert", `{"Severity":"warning","Title":"ssh brute force from 192.0.2.66\r\nBcc: evil@example.org","Labels":{"service":"ssh"},"Time":"2026-11-25T02:58:00Z","Line":"<script>x</script>"}`},
	} {
		if _, err := s.DB().Exec(`INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.Add(time.Duration(i)*time.Second).UnixNano(), kp[0], kp[1]); err != nil {
			t.Fatal(err)
		}
		// The mail server is down: nothing is lost, everything waits.
		// (Each row is tried before the next arrives: an outage and its
		// recovery that both waited untried would go as one message.)
		if err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var pending int
	s.DB().QueryRow(`SELECT count(*) FROM deliveries WHERE sent IS NULL`).Scan(&pending)
	if pending != 3 {
		t.Fatalf("%d notifications pending with the server down, want 3", pending)
	}
	dir, _ := smtpSink(t, port)
	clock = clock.Add(15 * time.Minute) // past the backoff
	if err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	peers.Eventually(t, 10*time.Second, func() bool { msgs = messages(dir); return len(msgs) == 3 })
	var down, up, rule string
	for _, m := range msgs {
		switch {
		case strings.Contains(m, "is DOWN since"):
			down = m
		case strings.Contains(m, "has RECOVERED"):
			up = m
		default:
			rule = m
		}
	}
	for _, want := range []string{"Subject: [watchpost] nightly-backup (incident #7)", "Message-ID: <watchpost.incident.7@loghost.example.test>", "Auto-Submitted: auto-generated", "no ping since"} {
		if !strings.Contains(down, want) {
			t.Errorf("the outage email lacks %q:\n%s", want, down)
		}
	}
	for _, want := range []string{"Subject: [watchpost] nightly-backup (incident #7)", "In-Reply-To: <watchpost.incident.7@loghost.example.test>", "References: <watchpost.incident.7@loghost.example.test>"} {
		if !strings.Contains(up, want) {
			t.Errorf("the recovery email lacks %q:\n%s", want, up)
		}
	}
	head, _, _ := strings.Cut(strings.ReplaceAll(rule, "\r\n", "\n"), "\n\n")
	if strings.Contains(head, "\nBcc:") || !strings.Contains(rule, "&lt;script&gt;") {
		t.Errorf("log data escaped badly in the rule alert:\n%s", rule)
	}
	s.DB().QueryRow(`SELECT count(*) FROM deliveries WHERE sent IS NULL`).Scan(&pending)
	if pending != 0 {
		t.Errorf("%d still pending", pending)
	}
	var attempts int
	s.DB().QueryRow(`SELECT d.attempts FROM deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE o.kind = 'check_down'`).Scan(&attempts)
	if attempts != 2 {
		t.Errorf("the outage email took %d attempts, want 2 (recorded)", attempts)
	}
}

func TestGiveUpWhenTooOld(t *testing.T) {
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	s.DB().Exec(`INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.Add(-25*time.Hour).UnixNano(), "check_down", `{"check":"x","from":"up","to":"down","incident":1}`)
	em, _ := NewEmail(EmailConfig{SMTP: "127.0.0.1:1", TLS: "none", From: "a@b", To: []string{"c@d"}})
	d := New(s.DB(), Config{Email: em, Now: func() time.Time { return now }})
	if err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	var givenUp int
	s.DB().QueryRow(`SELECT count(*) FROM deliveries WHERE given_up IS NOT NULL`).Scan(&givenUp)
	if givenUp != 1 {
		t.Fatal("a day-old alert was not given up")
	}

}

// TestAlertsTestCommand: `watchpost alerts test` sends one message through
// the configured server, and says so; without a receiver it says that.
func TestAlertsTestCommand(t *testing.T) {
	port := peers.FreePort(t)
	dir, _ := smtpSink(t, port)
	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "w.yml")
	os.WriteFile(cfg, []byte("alerting:\n  email: {smtp: \""+peers.Addr(port)+"\", tls: none, from: w@example.test, to: [ops@example.test]}\n"), 0o600)
	var out, errb strings.Builder
	if rc := Main(context.Background(), []string{"test", "-config", cfg}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	var msgs []string
	peers.Eventually(t, 10*time.Second, func() bool { msgs = messages(dir); return len(msgs) == 1 })
	if !strings.Contains(msgs[0], "Subject: [watchpost] test message") || !strings.Contains(out.String(), "sent a test message") {
		t.Errorf("message %q, output %q", msgs[0], out.String())
	}
	none := filepath.Join(cfgDir, "none.yml")
	os.WriteFile(none, []byte("timezone: UTC\n"), 0o600)
	errb.Reset()
	if rc := Main(context.Background(), []string{"test", "-config", none}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "no alerting.email or alerting.matrix") {
		t.Errorf("without a receiver: rc %d %q", rc, errb.String())
	}
}
