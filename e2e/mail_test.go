package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// postfix is Debian's postfix on loopback ("Local only"), delivering to
// /var/mail/root. It is one system-wide daemon on port 25: tests using it
// must not run in parallel.
type postfix struct {
	t    testing.TB
	bin  string
	out  *syncBuffer
	done chan struct{}
}

func startPostfix(t testing.TB) *postfix {
	t.Helper()
	bin := need(t, "postfix", "postfix")
	peers.RequireRoot(t, "postfix on port 25")
	if exec.Command(bin, "status").Run() == nil {
		t.Fatal("postfix is already running: another test or the system owns it")
	}
	if out, err := exec.Command(need(t, "postconf", "postfix"), "-e", "maillog_file=/dev/stdout").CombinedOutput(); err != nil {
		t.Fatalf("postconf: %v\n%s", err, out)
	}
	p := &postfix{t: t, bin: bin, out: &syncBuffer{}}
	p.start()
	t.Cleanup(p.stop)
	return p
}

// start runs postfix start-fg (its log on our stdout) and waits for SMTP.
func (p *postfix) start() {
	p.t.Helper()
	cmd := exec.Command(p.bin, "start-fg")
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	done := p.done
	go func() { cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c, err := net.Dial("tcp", "127.0.0.1:25")
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("postfix did not listen on 127.0.0.1:25:\n%s", p.out.String())
		}
	}
}

// stop uses `postfix stop`: killing start-fg would leave master running.
func (p *postfix) stop() {
	if p.done == nil {
		return
	}
	exec.Command(p.bin, "stop").Run()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("postfix did not stop:\n%s", p.out.String())
	}
	p.done = nil
}

// mailbox returns the messages in /var/mail/root whose subject holds tag.
func mailbox(t testing.TB, tag string) []*mail.Message {
	t.Helper()
	data, err := os.ReadFile("/var/mail/root")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []*mail.Message
	// mbox: each message starts with a "From " line.
	for _, raw := range strings.Split("\n"+string(data), "\nFrom ") {
		_, msg, ok := strings.Cut(raw, "\n")
		if !ok {
			continue
		}
		m, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(msg)))
		if err != nil || !strings.Contains(m.Header.Get("Subject"), tag) {
			continue
		}
		var body bytes.Buffer
		body.ReadFrom(m.Body)
		m.Body = &body
		out = append(out, m)
	}
	return out
}

func waitMail(t testing.TB, tag string, n int, within time.Duration, logs func() string) []*mail.Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := mailbox(t, tag)
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) < n {
				t.Fatalf("%d of %d messages about %s arrived in /var/mail/root\n%s", len(got), n, tag, logs())
			}
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ping(t testing.TB, url string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader("backup log"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ping %s: %v %v", url, err, resp)
	}
	resp.Body.Close()
}

func msgID(s string) string { return strings.Trim(strings.TrimSpace(s), "<>") }

// TestPostfixEmail: a heartbeat fails and recovers, and both messages
// land in the local mailbox through Debian's postfix, the second
// threaded under the first (In-Reply-To and References = the first's
// Message-ID). Then postfix is stopped while an alert waits in the
// outbox; once postfix is back the alert arrives, exactly once.
func TestPostfixEmail(t *testing.T) {
	pf := startPostfix(t)
	nonce := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	a, b := "backup-a"+nonce, "backup-b"+nonce
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: fmt.Sprintf(`heartbeats:
  - {name: %s, id: 0b6f4f3e-1c3a-4d0e-9a57-aaaaaaaaaaaa, period: 24h, grace: 2h}
  - {name: %s, id: 0b6f4f3e-1c3a-4d0e-9a57-bbbbbbbbbbbb, period: 24h, grace: 2h}
alerting:
  email: {smtp: "127.0.0.1:25", tls: none, from: watchpost@example.test, to: [root@localhost]}
`, a, b)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	logs := func() string { return "loghost:\n" + lh.out.String() + "\npostfix:\n" + pf.out.String() }

	// Down, then (once the outage was delivered) up again.
	ping(t, base+"/ping/0b6f4f3e-1c3a-4d0e-9a57-aaaaaaaaaaaa/1")
	first := waitMail(t, a, 1, 30*time.Second, logs)[0]
	ping(t, base+"/ping/0b6f4f3e-1c3a-4d0e-9a57-aaaaaaaaaaaa")
	msgs := waitMail(t, a, 2, 30*time.Second, logs)
	second := msgs[1]
	root := msgID(first.Header.Get("Message-Id"))
	if root == "" || msgID(second.Header.Get("In-Reply-To")) != root || msgID(second.Header.Get("References")) != root {
		t.Errorf("not threaded: first Message-ID %q; second In-Reply-To %q References %q", root,
			second.Header.Get("In-Reply-To"), second.Header.Get("References"))
	}
	if first.Header.Get("Subject") != second.Header.Get("Subject") {
		t.Errorf("subjects differ: %q, %q", first.Header.Get("Subject"), second.Header.Get("Subject"))
	}
	for i, m := range msgs {
		if m.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("message %d: Auto-Submitted %q", i, m.Header.Get("Auto-Submitted"))
		}
	}
	body1, body2 := first.Body.(*bytes.Buffer).String(), second.Body.(*bytes.Buffer).String()
	if !strings.Contains(body1, "is DOWN") || !strings.Contains(body2, "RECOVERED") {
		t.Errorf("bodies:\n%s\n---\n%s", body1, body2)
	}

	// postfix down while an alert waits: retried, delivered once it is back.
	pf.stop()
	ping(t, base+"/ping/0b6f4f3e-1c3a-4d0e-9a57-bbbbbbbbbbbb/2")
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(lh.out.String(), "alert not delivered"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt while postfix was down\n%s", logs())
		}
	}
	if got := mailbox(t, b); len(got) != 0 {
		t.Fatalf("delivered while postfix was down?")
	}
	pf.start()
	waitMail(t, b, 1, 90*time.Second, logs)
	time.Sleep(3 * time.Second) // a duplicate would come now
	if got := mailbox(t, b); len(got) != 1 {
		t.Errorf("%d messages about %s after the outage, want exactly 1", len(got), b)
	}
	if got := mailbox(t, a); len(got) != 2 {
		t.Errorf("%d messages about %s, want 2", len(got), a)
	}
}
