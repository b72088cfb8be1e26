package checker

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// mailPair is postfix delivering into the Maildir a private Dovecot
// serves, as a real mail host does: probe@ goes there, lost@ to a
// Maildir no one reads.
type mailPair struct {
	smtp     string // postfix, STARTTLS
	d        *peers.Dovecot
	pool     *x509.CertPool
	passFile string
}

func startMailPair(t testing.TB) mailPair {
	t.Helper()
	d := peers.StartDovecot(t, peers.DovecotConfig{})
	base := filepath.Dir(d.Home)
	lost := filepath.Join(base, "lost")
	if err := os.Mkdir(lost, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(lost, d.UID, d.GID); err != nil {
		t.Fatal(err)
	}
	smtp, _, cert := startPostfix(t, time.Now().Add(30*24*time.Hour),
		"virtual_mailbox_domains = mail.example.test",
		"virtual_mailbox_base = "+base,
		fmt.Sprintf("virtual_mailbox_maps = inline:{ %s@mail.example.test=%s/Maildir/, lost@mail.example.test=lost/Maildir/ }", d.User, d.User),
		fmt.Sprintf("virtual_uid_maps = static:%d", d.UID),
		fmt.Sprintf("virtual_gid_maps = static:%d", d.GID))
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	pool.AddCert(d.Cert)
	pass := filepath.Join(t.TempDir(), "mailbox.pass")
	if err := os.WriteFile(pass, []byte(d.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return mailPair{smtp: smtp, d: d, pool: pool, passFile: pass}
}

// url is the roundtrip_mailbox for scheme at addr.
func (mp mailPair) url(scheme, addr, path, passFile string) string {
	return fmt.Sprintf("%s://%s@%s%s?password_file=%s", scheme, mp.d.User, addr, path, url.QueryEscape(passFile))
}

func (mp mailPair) check(name, to, mailbox string, timeout time.Duration) config.Check {
	return config.Check{Name: name, Type: "smtp", Target: mp.smtp,
		RoundTripTo: to, RoundTripMailbox: mailbox, Timeout: config.Duration(timeout),
		Conditions: []string{"starttls == true", "delivery_time < 10s"}}
}

// TestSMTPRoundTripDovecot: postfix takes the probe's message over
// STARTTLS and delivers it to a Maildir; Dovecot serves it over IMAPS,
// IMAP+STARTTLS, POP3S and POP3+STLS, and the probe finds it there and
// deletes it.
func TestSMTPRoundTripDovecot(t *testing.T) {
	mp := startMailPair(t)
	d := mp.d
	to := d.User + "@mail.example.test"
	wrongPass := filepath.Join(t.TempDir(), "wrong.pass")
	if err := os.WriteFile(wrongPass, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A message that never arrives is looked for until the timeout; the
	// timeout must still leave ample time for the logins on a busy
	// machine, or the error would name a slow TLS handshake instead.
	const neverArrives = 10 * time.Second
	tests := []struct {
		name, to, mailbox string
		timeout           time.Duration
		ok                bool
		errSubst          string
	}{
		{"imaps", to, mp.url("imaps", d.IMAPS, "/INBOX", mp.passFile), 10 * time.Second, true, ""},
		{"imap starttls", to, mp.url("imap", d.IMAP, "", mp.passFile), 10 * time.Second, true, ""},
		{"pop3s", to, mp.url("pop3s", d.POP3S, "", mp.passFile), 10 * time.Second, true, ""},
		{"pop3 stls", to, mp.url("pop3", d.POP3, "", mp.passFile), 10 * time.Second, true, ""},
		{"imaps never arrives", "lost@mail.example.test", mp.url("imaps", d.IMAPS, "/INBOX", mp.passFile), neverArrives, false, "message to lost@mail.example.test not in imaps://probe@" + d.IMAPS + "/INBOX after"},
		{"pop3s never arrives", "lost@mail.example.test", mp.url("pop3s", d.POP3S, "", mp.passFile), neverArrives, false, "message to lost@mail.example.test not in pop3s://probe@" + d.POP3S + " after"},
		// Last: Dovecot slows the logins after a failed one.
		{"imaps wrong password", to, mp.url("imaps", d.IMAPS, "/INBOX", wrongPass), 10 * time.Second, false, "login as probe: imap: NO [AUTHENTICATIONFAILED]"},
		{"pop3s wrong password", to, mp.url("pop3s", d.POP3S, "", wrongPass), 10 * time.Second, false, "login as probe: PASS: -ERR [AUTH]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(mp.check("mail round trip "+tt.name, tt.to, tt.mailbox, tt.timeout), Options{RootCAs: mp.pool})
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			r := p.Run(context.Background())
			took := time.Since(t0)
			if r.Success != tt.ok || !strings.Contains(r.Error, tt.errSubst) {
				t.Fatalf("Success %v Error %q, want %v %q; %+v %v", r.Success, r.Error, tt.ok, tt.errSubst, r.ConditionResults, r.Values)
			}
			if strings.Contains(r.Error, d.Password) || strings.Contains(r.Error, "not-the-password") {
				t.Errorf("the error shows the password: %q", r.Error)
			}
			d, _ := r.Values["delivery_time"].(time.Duration)
			if tt.ok && (d <= 0 || d > took) {
				t.Errorf("delivery_time = %v, the run took %v", r.Values["delivery_time"], took)
			}
			if !tt.ok && d != 0 {
				t.Errorf("delivery_time = %v on a failed round trip", d)
			}
			if strings.HasPrefix(tt.errSubst, "login as") && strings.Contains(r.Error, "timeout") {
				t.Errorf("a refused login timed out (after %v): it should fail with the server's answer", took)
			}
			if n := len(mp.d.Messages(t)); n != 0 {
				t.Errorf("%d messages left in the mailbox after the run, want 0", n)
			}
		})
	}
}

// TestSMTPRoundTripLeftovers: a message of this check from a run that
// gave up (older than the timeout) is deleted; mail that is not this
// check's, and this check's recent mail, are left alone.
func TestSMTPRoundTripLeftovers(t *testing.T) {
	mp := startMailPair(t)
	d := mp.d
	const name = "mail round trip leftovers"
	msg := func(subject, extra string, date time.Time) string {
		return fmt.Sprintf("From: <watchpost@mail.example.test>\r\nTo: <probe@mail.example.test>\r\nSubject: %s\r\nDate: %s\r\n%s\r\nbody\r\n",
			subject, date.Format(time.RFC1123Z), extra)
	}
	for _, tt := range []struct{ scheme, addr string }{{"imaps", d.IMAPS}, {"pop3s", d.POP3S}} {
		t.Run(tt.scheme, func(t *testing.T) {
			old := time.Now().Add(-time.Hour)
			d.Deliver(t, msg("stale", "X-Watchpost-Probe: 0123\r\nX-Watchpost-Check: "+checkID(name)+"\r\n", old))
			d.Deliver(t, msg("another check's", "X-Watchpost-Probe: 4567\r\nX-Watchpost-Check: "+checkID("other")+"\r\n", old))
			d.Deliver(t, msg("someone's mail", "", old))
			d.Deliver(t, msg("in flight", "X-Watchpost-Probe: 89ab\r\nX-Watchpost-Check: "+checkID(name)+"\r\n", time.Now()))
			p, err := Compile(mp.check(name, d.User+"@mail.example.test", mp.url(tt.scheme, tt.addr, "", mp.passFile), 10*time.Second), Options{RootCAs: mp.pool})
			if err != nil {
				t.Fatal(err)
			}
			if r := p.Run(context.Background()); !r.Success {
				t.Fatalf("%+v", r)
			}
			var left []string
			for _, f := range d.Messages(t) {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				_, rest, _ := strings.Cut(string(b), "Subject: ")
				subj, _, _ := strings.Cut(rest, "\r\n")
				left = append(left, subj)
				os.Remove(f)
			}
			got := strings.Join(sorted(left), ", ")
			if want := "another check's, in flight, someone's mail"; got != want {
				t.Errorf("left in the mailbox: %s; want %s", got, want)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestMailboxURL: roundtrip_mailbox as a URL; each error names the key.
func TestMailboxURL(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	q := "?password_file=" + url.QueryEscape(pass)
	tests := []struct {
		in                     string
		proto, addr, box, user string
		tls                    bool
		err                    string
	}{
		{in: "/var/mail/probe"},
		{in: "imaps://probe@mail.example.org/INBOX" + q, proto: "imap", addr: "mail.example.org:993", box: "INBOX", user: "probe", tls: true},
		{in: "imaps://probe@example.org@mail.example.org" + q, proto: "imap", addr: "mail.example.org:993", box: "INBOX", user: "probe@example.org", tls: true},
		{in: "IMAP://probe%40example.org@[2001:db8::1]:1143/Probes%2FIn" + q, proto: "imap", addr: "[2001:db8::1]:1143", box: "Probes/In", user: "probe@example.org"},
		{in: "pop3s://probe@mail.example.org" + q, proto: "pop3", addr: "mail.example.org:995", user: "probe", tls: true},
		{in: "pop3://probe@mail.example.org:1110/" + q, proto: "pop3", addr: "mail.example.org:1110", user: "probe"},
		{in: "http://probe@mail.example.org" + q, err: `roundtrip_mailbox: scheme "http"`},
		{in: "imaps://mail.example.org/INBOX" + q, err: "roundtrip_mailbox: name the account"},
		{in: "imaps://probe:s3cret@mail.example.org/INBOX" + q, err: "roundtrip_mailbox: no password in the URL"},
		{in: "imaps://probe@mail.example.org/INBOX", err: "roundtrip_mailbox: give the account's password as ?password_file=FILE"},
		{in: "imaps://probe@mail.example.org/INBOX?password=x", err: `roundtrip_mailbox: unknown parameter "password"`},
		{in: "imaps://probe@mail.example.org/INBOX?password_file=" + filepath.Join(dir, "none"), err: "roundtrip_mailbox: password_file: open"},
		{in: "imaps://probe@mail.example.org/INBOX?password_file=" + empty, err: "roundtrip_mailbox: password_file " + empty + ": want one line"},
		{in: "pop3s://probe@mail.example.org/INBOX" + q, err: "roundtrip_mailbox: POP3 has one mailbox"},
		{in: "imaps://probe@:993/INBOX" + q, err: "roundtrip_mailbox: no host"},
		{in: "imaps://probe@mail.example.org:99999/INBOX" + q, err: "roundtrip_mailbox: bad port"},
		{in: "imaps://pro%0Dbe@mail.example.org/INBOX" + q, err: "roundtrip_mailbox: bad user name"},
		{in: "imaps://probe@mail.example.org/IN%0D%0ABOX" + q, err: "roundtrip_mailbox: bad mailbox name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := parseMailboxURL(tt.in)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.proto == "" {
				if m != nil {
					t.Fatalf("a path gave %+v", m)
				}
				return
			}
			if m.proto != tt.proto || m.addr != tt.addr || m.box != tt.box || m.user != tt.user || m.implicitTLS != tt.tls || m.pass != "s3cret" {
				t.Errorf("got %s %s %q %q tls=%v, want %s %s %q %q tls=%v", m.proto, m.addr, m.box, m.user, m.implicitTLS, tt.proto, tt.addr, tt.box, tt.user, tt.tls)
			}
			if strings.Contains(m.display, "s3cret") || strings.Contains(m.display, "password_file") {
				t.Errorf("display %q", m.display)
			}
		})
	}
	// Through Compile, the check's name leads and the key is named.
	_, err := Compile(config.Check{Name: "mx", Type: "smtp", Target: "mx.example.org", RoundTripTo: "probe@example.org",
		RoundTripMailbox: "imaps://probe@mail.example.org/INBOX"}, Options{})
	if err == nil || !strings.Contains(err.Error(), `check "mx": roundtrip_mailbox: `) {
		t.Errorf("Compile: %v", err)
	}
}

// BenchmarkSMTPRoundTrip: one probe through postfix (STARTTLS) into
// Dovecot's Maildir and back out over IMAPS or POP3S, on loopback.
// Reports the probe's own delivery_time beside the whole run.
func BenchmarkSMTPRoundTrip(b *testing.B) {
	mp := startMailPair(b)
	d := mp.d
	for _, bb := range []struct{ scheme, addr string }{{"imaps", d.IMAPS}, {"pop3s", d.POP3S}} {
		b.Run(bb.scheme, func(b *testing.B) {
			p, err := Compile(mp.check("bench "+bb.scheme, d.User+"@mail.example.test", mp.url(bb.scheme, bb.addr, "", mp.passFile), 20*time.Second), Options{RootCAs: mp.pool})
			if err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			for b.Loop() {
				r := p.Run(context.Background())
				if !r.Success {
					b.Fatalf("%+v", r)
				}
				dt, _ := r.Values["delivery_time"].(time.Duration)
				total += dt
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "delivery-ms/op")
		})
	}
}
