package checker

import (
	"context"
	"crypto/x509"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// startAuthSMTP runs aiosmtpd (Debian's python3-aiosmtpd) with STARTTLS
// and one account, AUTH PLAIN and LOGIN allowed only inside TLS.
func startAuthSMTP(t *testing.T, user, pass string, exclude ...string) (string, *x509.Certificate) {
	t.Helper()
	// Debian's python, which has the module; a python3 earlier on PATH may not.
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import aiosmtpd").Run(); err != nil {
		peers.Unavailable(t, "python3-aiosmtpd is not installed: %v", err)
	}
	dir := t.TempDir()
	cert, certFile, keyFile := selfSigned(t, dir, time.Now().Add(30*24*time.Hour))
	script, err := filepath.Abs("testdata/smtpauth/server.py")
	if err != nil {
		t.Fatal(err)
	}
	port := peers.FreePort(t)
	p := peers.StartCmd(t, exec.Command(python, script, strconv.Itoa(port), certFile, keyFile, user, pass, strings.Join(exclude, ",")))
	addr := peers.Addr(port)
	p.WaitTCP(addr, 30*time.Second)
	return addr, cert
}

func TestSMTPAuth(t *testing.T) {
	addr, cert := startAuthSMTP(t, "probe", "s3cret pass")
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	loginOnly, cert2 := startAuthSMTP(t, "probe", "s3cret pass", "PLAIN")
	pool.AddCert(cert2)
	opts := Options{RootCAs: pool, ServerName: "mail.example.test"}
	tests := []struct {
		name, addr, user, pass string
		state                  State
		errSubst               string
	}{
		{"right password", addr, "probe", "s3cret pass", StateOK, ""},
		{"wrong password", addr, "probe", "wrong", StateCritical, "AUTH PLAIN as probe"},
		{"unknown user", addr, "nobody", "s3cret pass", StateCritical, "535"},
		{"LOGIN when PLAIN is not offered", loginOnly, "probe", "s3cret pass", StateOK, ""},
		{"LOGIN, wrong password", loginOnly, "probe", "wrong", StateCritical, "AUTH LOGIN as probe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(config.Check{Name: "submission", Type: "smtp", Target: tt.addr, Username: tt.user,
				Password: config.Secret(tt.pass), Conditions: []string{"starttls == true", "auth == true", "extensions contains AUTH"}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Run(context.Background())
			if r.State != tt.state || !strings.Contains(r.Error, tt.errSubst) {
				t.Fatalf("State %v Error %q, want %v %q; %+v %v", r.State, r.Error, tt.state, tt.errSubst, r.ConditionResults, r.Values)
			}
			if strings.Contains(r.Error, tt.pass) {
				t.Fatalf("the password is in the error: %q", r.Error)
			}
		})
	}
	// Without TLS the password is never sent: smtp-sink offers no STARTTLS.
	sink := startSMTPSink(t)
	p, err := Compile(config.Check{Name: "plain", Type: "smtp", Target: sink, Username: "probe", Password: "x"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Run(context.Background()); r.Success || !strings.Contains(r.Error, "no TLS") || r.Values["auth"] != false {
		t.Fatalf("AUTH over a plain connection: %+v", r)
	}
}
