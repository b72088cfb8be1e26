package checker

import (
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

// startUnboundDoT runs unbound serving DNS over TLS with a self-signed
// certificate (for 127.0.0.1 and mail.example.test) in front of nsd.
func startUnboundDoT(t testing.TB, nsdAddr string, notAfter time.Time) (dotAddr string, cert *x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	cert, certFile, keyFile := selfSigned(t, dir, notAfter)
	port := peers.FreePort(t)
	extra := fmt.Sprintf(`  module-config: "iterator"
  interface: 127.0.0.1@%d
  tls-port: %d
  tls-service-key: %q
  tls-service-pem: %q`, port, port, keyFile, certFile)
	startUnboundConf(t, nsdAddr, dir, extra)
	addr := peers.Addr(port)
	peers.WaitTCP(t, addr, 30*time.Second)
	return addr, cert
}

func TestDNSOverTLSUnbound(t *testing.T) {
	notAfter := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	dot, cert := startUnboundDoT(t, startNSD(t), notAfter)
	now := notAfter.Add(-10 * 24 * time.Hour)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	clock := func() time.Time { return now }
	tests := []struct {
		name, target string
		opts         Options
		conds, warns []string
		state        State
		errSubst     string
	}{
		{"verified", "tls://" + dot, Options{RootCAs: pool, Now: clock},
			[]string{"answer == 192.0.2.1", `transport == "tls"`, "tls == true", "cert_expires_in == 10d"},
			[]string{"cert_expires_in > 14d"}, StateWarning, ""},
		{"dot:// and the server name", "dot://" + dot, Options{RootCAs: pool, Now: clock, ServerName: "mail.example.test"},
			[]string{"answer == 192.0.2.1", `tls_version matches "^TLS 1\\.[23]$"`}, nil, StateOK, ""},
		{"untrusted certificate", "tls://" + dot, Options{Now: clock},
			[]string{"answer == 192.0.2.1"}, nil, StateCritical, "certificate"},
		{"wrong server name", "tls://" + dot, Options{RootCAs: pool, Now: clock, ServerName: "other.example.test"},
			[]string{"answer == 192.0.2.1"}, nil, StateCritical, "other.example.test"},
		{"insecure skips verification", "tls://" + dot, Options{InsecureSkipVerify: true, Now: clock},
			[]string{"answer == 192.0.2.1", "cert_expires_in == 10d"}, nil, StateOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(config.Check{Name: "dot", Type: "dns", Target: tt.target, Query: "A wiki.example.test",
				Conditions: tt.conds, WarnConditions: tt.warns}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var r Result
			// The first query may race unbound's start.
			peers.Eventually(t, 20*time.Second, func() bool {
				r = p.Run(context.Background())
				return r.State == tt.state && strings.Contains(r.Error, tt.errSubst)
			})
			if r.Values["cert_expires_in"] != 10*24*time.Hour {
				t.Errorf("cert_expires_in = %v, want 240h (reported even when untrusted)", r.Values["cert_expires_in"])
			}
		})
	}
}

func TestParseDNSServer(t *testing.T) {
	tests := []struct {
		in, addr, net string
		bad           bool
	}{
		{"192.0.2.53", "192.0.2.53:53", "udp", false},
		{"192.0.2.53:5353", "192.0.2.53:5353", "udp", false},
		{"tcp://192.0.2.53", "192.0.2.53:53", "tcp", false},
		{"tls://dns.example.org", "dns.example.org:853", "tls", false},
		{"DoT://[2001:db8::1]", "[2001:db8::1]:853", "tls", false},
		{"udp://[2001:db8::1]:54", "[2001:db8::1]:54", "udp", false},
		{"https://dns.example.org", "", "", true},
		{"tls://", "", "", true},
		{"192.0.2.53:99999", "", "", true},
	}
	for _, tt := range tests {
		s, err := parseDNSServer(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("%q: err %v", tt.in, err)
			continue
		}
		if !tt.bad && (s.addr != tt.addr || s.net != tt.net) {
			t.Errorf("%q: got %s %s, want %s %s", tt.in, s.addr, s.net, tt.addr, tt.net)
		}
	}
}

// TestSOASerialAgreement: two real nsd instances serve example.test; the
// check passes while their serials agree and names the one that lags.
func TestSOASerialAgreement(t *testing.T) {
	a := startNSD(t)
	same := startNSD(t)
	behind := startNSDZone(t, strings.Replace(testZone(), "2026112501", "2026112400", 1))
	tcpSame := "tcp://" + same
	tests := []struct {
		name        string
		nameservers []string
		ok          bool
		errSubst    string
		serials     string
	}{
		{"agree", []string{tcpSame}, true, "", a + " 2026112501," + same + " 2026112501"},
		{"one lags", []string{tcpSame, behind}, false, behind + " serves 2026112400", ""},
		{"one is down", []string{"127.0.0.1:" + fmt.Sprint(peers.FreePort(t))}, false, "disagree", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(config.Check{Name: "soa", Type: "dns", Target: a, Query: "SOA example.test",
				Nameservers: tt.nameservers, Timeout: config.Duration(10 * time.Second),
				Conditions: []string{"soa_serial >= 2026112501"}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Run(context.Background())
			if r.Success != tt.ok || !strings.Contains(r.Error, tt.errSubst) {
				t.Fatalf("Success %v Error %q, want %v %q; %v", r.Success, r.Error, tt.ok, tt.errSubst, r.Values)
			}
			if r.Values["serials_agree"] != tt.ok {
				t.Errorf("serials_agree = %v", r.Values["serials_agree"])
			}
			if tt.serials != "" {
				c, _ := ParseCondition("dns", "soa_serials == "+tt.serials)
				if ok, d := c.Eval(r.Values); !ok {
					t.Errorf("soa_serials: %s", d)
				}
			}
		})
	}
	// Only a SOA query compares serials.
	if _, err := Compile(config.Check{Name: "x", Type: "dns", Target: a, Query: "A example.test", Nameservers: []string{same}}, Options{}); err == nil {
		t.Error("nameservers with an A query compiled")
	}
}

// signZone signs the test zone with fresh ldns keys, signatures expiring
// at exp, and returns the signed zone text and the key-signing key's DS
// file for a resolver's trust anchor.
func signZone(t testing.TB, exp time.Time) (signed, dsFile string) {
	t.Helper()
	paths := peers.Require(t, "ldns-keygen", "ldns-signzone")
	dir := t.TempDir()
	zf := filepath.Join(dir, "example.test.zone")
	if err := os.WriteFile(zf, []byte(testZone()), 0o644); err != nil {
		t.Fatal(err)
	}
	keygen := func(args ...string) string {
		cmd := exec.Command(paths["ldns-keygen"], append(args, "example.test")...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ldns-keygen %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	ksk := keygen("-a", "ECDSAP256SHA256", "-k")
	zsk := keygen("-a", "ECDSAP256SHA256")
	cmd := exec.Command(paths["ldns-signzone"], "-e", exp.UTC().Format("20060102150405"), zf, ksk, zsk)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldns-signzone: %v\n%s", err, out)
	}
	b, err := os.ReadFile(zf + ".signed")
	if err != nil {
		t.Fatal(err)
	}
	return string(b), filepath.Join(dir, ksk+".ds")
}
