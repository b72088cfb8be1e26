package checker

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// selfSigned makes a certificate for mail.example.test and 127.0.0.1
// that expires at notAfter, and writes it and its key as PEM into dir.
func selfSigned(t testing.TB, dir string, notAfter time.Time) (*x509.Certificate, string, string) {
	t.Helper()
	return peers.SelfSignedCert(t, dir, notAfter)
}

// startSMTPSink runs postfix's smtp-sink, which offers no STARTTLS.
func startSMTPSink(t testing.TB) string {
	t.Helper()
	port := peers.FreePort(t)
	addr := peers.Addr(port)
	p := peers.Start(t, "smtp-sink", "-u", "nobody", "-h", "sink.example.test", addr, "10")
	p.WaitTCP(addr, 30*time.Second)
	return addr
}

// startPostfix runs a private postfix instance (its own config, queue
// and ports, so the machine's postfix is untouched) with a self-signed
// certificate: smtpd on one port with STARTTLS, and in wrapper mode
// (implicit TLS, as on 465) on another.
func startPostfix(t testing.TB, notAfter time.Time, mainCFExtra ...string) (starttlsAddr, implicitAddr string, cert *x509.Certificate) {
	t.Helper()
	paths := peers.Require(t, "postfix", "postconf")
	if os.Geteuid() != 0 {
		peers.RequireRoot(t, "postfix")
	}
	dir, err := os.MkdirTemp("", "watchpost-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	// Postfix's daemons run as the postfix user and must reach their
	// queue, so the tree is not a 0700 t.TempDir.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	etc := filepath.Join(dir, "etc")
	for _, d := range []string{etc, filepath.Join(dir, "spool"), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("chown", "postfix", filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	cert, certFile, keyFile := selfSigned(t, etc, notAfter)
	p1, p2 := peers.FreePort(t), peers.FreePort(t)
	master, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		t.Fatal(err)
	}
	var mc strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(master)))
	for sc.Scan() {
		l := sc.Text()
		f := strings.Fields(l)
		if len(f) >= 8 && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			if f[0] == "smtp" && f[1] == "inet" {
				continue
			}
			f[4] = "n" // no chroot: the chroot would need a copy of /etc
			l = strings.Join(f, " ")
		}
		mc.WriteString(l + "\n")
	}
	fmt.Fprintf(&mc, "127.0.0.1:%d inet n - n - - smtpd\n", p1)
	fmt.Fprintf(&mc, "127.0.0.1:%d inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n", p2)
	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %s/spool
data_directory = %s/data
mail_owner = postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.example.test
mydestination =
maillog_file = /dev/stdout
smtpd_tls_cert_file = %s
smtpd_tls_key_file = %s
smtpd_tls_security_level = may
smtpd_banner = $myhostname ESMTP watchpost-test
`, dir, dir, certFile, keyFile) + strings.Join(mainCFExtra, "\n") + "\n"
	for name, data := range map[string]string{"main.cf": mainCF, "master.cf": mc.String()} {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(paths["postfix"], "-c", etc, "check").CombinedOutput(); err != nil {
		t.Fatalf("postfix check: %v\n%s", err, out)
	}
	pr := peers.Start(t, "postfix", "-c", etc, "start-fg")
	// The master process leaves start-fg's process group: stop it as
	// postfix wants to be stopped (this cleanup runs before Start's).
	t.Cleanup(func() { _ = exec.Command(paths["postfix"], "-c", etc, "stop").Run() })
	pr.WaitTCP(peers.Addr(p1), 30*time.Second)
	pr.WaitTCP(peers.Addr(p2), 30*time.Second)
	return peers.Addr(p1), peers.Addr(p2), cert
}

func TestSMTPProbeSink(t *testing.T) {
	addr := startSMTPSink(t)
	p, err := Compile(config.Check{Name: "sink", Type: "smtp", Target: addr,
		Conditions: []string{"banner contains ESMTP", "extensions contains PIPELINING", "starttls == false"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Run(context.Background())
	if !r.Success {
		t.Fatalf("%s %+v %v", r.Error, r.ConditionResults, r.Values)
	}
	// Requiring STARTTLS of a server without it is a failure.
	p, err = Compile(config.Check{Name: "sink", Type: "smtp", Target: addr}, Options{RequireSTARTTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Run(context.Background()); r.Success || !strings.Contains(r.Error, "does not offer STARTTLS") {
		t.Fatalf("got %+v", r)
	}
}

func TestSMTPProbePostfixTLS(t *testing.T) {
	notAfter := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	starttls, implicit, cert := startPostfix(t, notAfter)
	now := notAfter.Add(-10 * 24 * time.Hour)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	trusted := Options{RootCAs: pool, Now: func() time.Time { return now }, RequireSTARTTLS: true}
	tests := []struct {
		name     string
		target   string
		opts     Options
		conds    []string
		warns    []string
		state    State
		errSubst string
	}{
		{"STARTTLS verified", starttls, trusted,
			[]string{"banner contains watchpost-test", "starttls == true", "tls == true", "cert_expires_in > 7d", "extensions contains 8BITMIME"},
			[]string{"cert_expires_in > 14d"}, StateWarning, ""},
		{"implicit TLS", "smtps://" + implicit, trusted,
			[]string{"tls == true", "starttls == false", "cert_expires_in == 10d", `tls_version matches "^TLS 1\\.[23]$"`}, nil, StateOK, ""},
		{"untrusted certificate fails by default", starttls, Options{Now: trusted.Now},
			[]string{"cert_expires_in > 7d"}, nil, StateCritical, "certificate"},
		{"insecure skips verification", starttls, Options{InsecureSkipVerify: true, Now: trusted.Now},
			[]string{"starttls == true"}, nil, StateOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(config.Check{Name: "mx", Type: "smtp", Target: tt.target, Conditions: tt.conds, WarnConditions: tt.warns}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Run(context.Background())
			if r.State != tt.state || !strings.Contains(r.Error, tt.errSubst) {
				t.Fatalf("State %v Error %q, want %v %q; %+v %v", r.State, r.Error, tt.state, tt.errSubst, r.ConditionResults, r.Values)
			}
			if r.Values["cert_expires_in"] != 10*24*time.Hour {
				t.Errorf("cert_expires_in = %v, want 240h", r.Values["cert_expires_in"])
			}
		})
	}
}
