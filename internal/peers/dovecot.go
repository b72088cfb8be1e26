package peers

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DovecotConfig says whose mailbox a private Dovecot serves. The zero
// value is user "probe", password "correct-horse-battery", owned by
// nobody (65534:65534), which postfix's virtual(8) can deliver as.
type DovecotConfig struct {
	User, Password string
	UID, GID       int
}

// Dovecot is a real Dovecot (Debian's dovecot-imapd and dovecot-pop3d) on
// loopback: IMAP with STARTTLS, IMAPS, POP3 with STLS and POP3S, one user
// whose Maildir a local MTA can deliver into.
type Dovecot struct {
	IMAP, IMAPS, POP3, POP3S string // 127.0.0.1:port each
	User, Password           string
	UID, GID                 int
	Home                     string // the user's home; the Maildir is Home/Maildir
	Maildir                  string
	Cert                     *x509.Certificate // self-signed, for 127.0.0.1 and mail.example.test
	CAFile                   string            // Cert as PEM
	Proc                     *Process
}

// StartDovecot runs `dovecot -F` with its own configuration, state and
// mail under a temporary directory (never /etc/dovecot's). Dovecot drops
// privileges per user, so it needs root: without it the test skips, or
// fails under CI=true. A failed login slows the next ones from 127.0.0.1
// (anvil's auth penalty, seconds, growing): test wrong passwords last.
func StartDovecot(t testing.TB, c DovecotConfig) *Dovecot {
	t.Helper()
	paths := Require(t, "dovecot")
	RequireRoot(t, "dovecot")
	if c.User == "" {
		c.User = "probe"
	}
	if c.Password == "" {
		c.Password = "correct-horse-battery"
	}
	if c.UID == 0 {
		c.UID, c.GID = 65534, 65534
	}
	// Not a 0700 t.TempDir: the login processes run as dovenull and the
	// mail processes as the user, and each must reach its part.
	dir, err := os.MkdirTemp("", "watchpost-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home", c.User)
	maildir := filepath.Join(home, "Maildir")
	mine := []string{home, maildir, filepath.Join(maildir, "cur"), filepath.Join(maildir, "new"), filepath.Join(maildir, "tmp")}
	for _, d := range append([]string{filepath.Join(dir, "run"), filepath.Join(dir, "state")}, mine...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range mine {
		if err := os.Chown(d, c.UID, c.GID); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cert, certFile, keyFile := dovecotCert(t, dir)
	passwd := filepath.Join(dir, "passwd")
	if strings.ContainsAny(c.User+c.Password, ":\n") {
		t.Fatalf("dovecot: user and password must not contain ':' or newlines")
	}
	line := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", c.User, c.Password, c.UID, c.GID, home)
	// The auth process runs as the dovecot user; a test password needs
	// no secrecy.
	if err := os.WriteFile(passwd, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	imap, imaps, pop3, pop3s := FreePort(t), FreePort(t), FreePort(t), FreePort(t)
	conf := fmt.Sprintf(`# watchpost test peer: nothing from /etc/dovecot is read
base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = watchpost-%[2]d
protocols = imap pop3
listen = 127.0.0.1
log_path = /dev/stderr
ssl = required
ssl_cert = <%[3]s
ssl_key = <%[4]s
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[5]s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[5]s
}
mail_location = maildir:~/Maildir
first_valid_uid = 1
pop3_uidl_format = %%08Xu%%08Xv
# A wrong password answers after this; the default 2 secs slows tests.
auth_failure_delay = 1 secs
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[6]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[7]d
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[8]d
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = %[9]d
    ssl = yes
  }
}
`, dir, imap, certFile, keyFile, passwd, imap, imaps, pop3, pop3s)
	confFile := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Start(t, paths["dovecot"], "-F", "-c", confFile)
	d := &Dovecot{
		IMAP: Addr(imap), IMAPS: Addr(imaps), POP3: Addr(pop3), POP3S: Addr(pop3s),
		User: c.User, Password: c.Password, UID: c.UID, GID: c.GID,
		Home: home, Maildir: maildir, Cert: cert, CAFile: certFile, Proc: p,
	}
	for _, a := range []string{d.IMAP, d.IMAPS, d.POP3, d.POP3S} {
		p.WaitTCP(a, 30*time.Second)
	}
	return d
}

// Messages lists the files in the Maildir's new/ and cur/: one per message.
func (d *Dovecot) Messages(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(d.Maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(out, filepath.Join(d.Maildir, sub, e.Name()))
		}
	}
	return out
}

// Deliver drops a message into the Maildir as an MTA would (new/, owned by
// the user), for tests that need a message without an MTA.
func (d *Dovecot) Deliver(t testing.TB, msg string) {
	t.Helper()
	name := strconv.FormatInt(time.Now().UnixNano(), 10) + ".watchpost.test"
	tmp := filepath.Join(d.Maildir, "tmp", name)
	if err := os.WriteFile(tmp, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, d.UID, d.GID); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.Maildir, "new", name)); err != nil {
		t.Fatal(err)
	}
}

// dovecotCert writes a self-signed certificate for 127.0.0.1 and
// mail.example.test, readable only by root (dovecot reads it before it
// drops privileges).
func dovecotCert(t testing.TB, dir string) (*x509.Certificate, string, string) {
	t.Helper()
	return SelfSignedCert(t, dir, time.Now().Add(30*24*time.Hour))
}
