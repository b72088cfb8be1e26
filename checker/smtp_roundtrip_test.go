package checker

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
)

// TestSMTPRoundTripPostfix: a real postfix accepts the probe's message
// over STARTTLS and delivers it to a local mbox, where the probe finds it.
func TestSMTPRoundTripPostfix(t *testing.T) {
	spool, err := os.MkdirTemp("", "watchpost-mail-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(spool) })
	// local(8) writes the mailbox as its owner, nobody: the spool is
	// world-writable and sticky, as /var/mail's mode allows.
	if err := os.Chmod(spool, 0o1777); err != nil {
		t.Fatal(err)
	}
	starttls, _, cert := startPostfix(t, time.Now().Add(30*24*time.Hour),
		"mydestination = mail.example.test",
		"alias_maps =",
		"alias_database =",
		"local_recipient_maps = unix:passwd.byname",
		"mail_spool_directory = "+spool,
		"biff = no")
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	mailbox := filepath.Join(spool, "nobody")
	// The timeout is what the message that never arrives is looked for;
	// it leaves ample room for postfix on a busy machine, so the error is
	// always "not in", never a slow SMTP exchange.
	tests := []struct {
		name, to, mailbox string
		ok                bool
		errSubst          string
	}{
		{"delivered", "nobody@mail.example.test", mailbox, true, ""},
		{"delivered again, found past the first", "nobody@mail.example.test", mailbox, true, ""},
		{"unknown recipient refused", "no-such-user@mail.example.test", mailbox, false, "RCPT TO:<no-such-user@mail.example.test>"},
		{"never arrives where looked for", "nobody@mail.example.test", filepath.Join(spool, "elsewhere"), false, "not in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(config.Check{Name: "mail round trip", Type: "smtp", Target: starttls,
				RoundTripTo: tt.to, RoundTripMailbox: tt.mailbox, Timeout: config.Duration(10 * time.Second),
				Conditions: []string{"starttls == true", "delivery_time < 10s"}}, Options{RootCAs: pool})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Run(context.Background())
			if r.Success != tt.ok || !strings.Contains(r.Error, tt.errSubst) {
				t.Fatalf("Success %v Error %q, want %v %q; %+v %v", r.Success, r.Error, tt.ok, tt.errSubst, r.ConditionResults, r.Values)
			}
			if d, _ := r.Values["delivery_time"].(time.Duration); tt.ok && d <= 0 {
				t.Errorf("delivery_time = %v", r.Values["delivery_time"])
			}
		})
	}
	b, err := os.ReadFile(mailbox)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\nX-Watchpost-Probe: "); n != 3 {
		t.Errorf("%d probe messages in the mailbox, want 3 (the last one was delivered, just not looked for there)", n)
	}
}
