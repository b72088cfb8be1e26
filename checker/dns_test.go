package checker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// testZone is served by a real nsd. bigtxt is over the 1232-byte EDNS
// buffer, so its answer comes back truncated over UDP and must be fetched
// again by TCP.
func testZone() string {
	var b strings.Builder
	b.WriteString(`$ORIGIN example.test.
$TTL 300
@     IN SOA ns1 hostmaster 2026112501 3600 600 86400 300
@     IN NS  ns1
ns1   IN A   127.0.0.1
wiki  IN A   192.0.2.1
www   IN CNAME wiki
multi IN A   192.0.2.10
multi IN A   192.0.2.11
@     IN MX  10 mail
mail  IN A   192.0.2.25
`)
	for i := range 12 {
		fmt.Fprintf(&b, "bigtxt IN TXT \"%02d %s\"\n", i, strings.Repeat("x", 180))
	}
	return b.String()
}

// startNSD runs nsd authoritative for example.test on a free loopback
// port and returns its address.
func startNSD(t testing.TB) string {
	t.Helper()
	return startNSDZone(t, testZone())
}

// startNSDZone runs nsd authoritative for example.test with this zone
// file text.
func startNSDZone(t testing.TB, zone string) string {
	t.Helper()
	peers.Require(t, "nsd")
	dir := t.TempDir()
	port := peers.FreePort(t)
	if err := os.WriteFile(filepath.Join(dir, "example.test.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`server:
  ip-address: 127.0.0.1@%d
  do-ip6: no
  username: ""
  chroot: ""
  database: ""
  zonesdir: %q
  pidfile: %q
  xfrdfile: %q
  zonelistfile: %q
  server-count: 1
  verbosity: 1
  # Response rate limiting would drop a benchmark's queries.
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: example.test.zone
`, port, dir, filepath.Join(dir, "nsd.pid"), filepath.Join(dir, "xfrd.state"), filepath.Join(dir, "zone.list"))
	cf := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := peers.Start(t, "nsd", "-d", "-c", cf)
	addr := peers.Addr(port)
	p.WaitTCP(addr, 30*time.Second)
	return addr
}

// startUnbound runs unbound as a resolver in front of nsd, refusing
// everything else so it never recurses to the internet.
func startUnbound(t testing.TB, nsdAddr string) string {
	t.Helper()
	addr, _ := startUnboundConf(t, nsdAddr, t.TempDir(), `  module-config: "iterator"`)
	return addr
}

// startUnboundConf runs unbound in front of nsd with extra server lines
// (the module configuration among them) and files under dir.
func startUnboundConf(t testing.TB, nsdAddr, dir, extra string) (string, *peers.Process) {
	t.Helper()
	peers.Require(t, "unbound")
	port := peers.FreePort(t)
	nsdHostPort := strings.Replace(nsdAddr, ":", "@", 1)
	conf := fmt.Sprintf(`server:
  interface: 127.0.0.1@%d
  port: %d
  do-ip6: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: %q
  use-syslog: no
  logfile: ""
  num-threads: 1
%s
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  local-zone: "." refuse
  local-zone: "example.test." transparent
remote-control:
  control-enable: no
stub-zone:
  name: "example.test."
  stub-addr: %s
`, port, port, dir, filepath.Join(dir, "unbound.pid"), extra, nsdHostPort)
	cf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := peers.Start(t, "unbound", "-d", "-c", cf)
	addr := peers.Addr(port)
	p.WaitTCP(addr, 30*time.Second)
	return addr, p
}

func TestDNSProbeNSD(t *testing.T) {
	addr := startNSD(t)
	tests := []struct {
		name      string
		query     string
		conds     []string
		success   bool
		answer    []string
		transport string
	}{
		{"A", "A wiki.example.test", []string{"rcode == NOERROR", "answer contains 192.0.2.1", "authoritative == true", "ttl == 5m"}, true, []string{"192.0.2.1"}, "udp"},
		{"bare name is A", "wiki.example.test", []string{"answer == 192.0.2.1"}, true, []string{"192.0.2.1"}, "udp"},
		{"two records, any order", "A multi.example.test", []string{"answer == 192.0.2.11,192.0.2.10", "len(answer) == 2"}, true, nil, "udp"},
		{"MX", "MX example.test", []string{"answer contains 10 mail.example.test"}, true, []string{"10 mail.example.test."}, "udp"},
		{"CNAME", "CNAME www.example.test", []string{"answer == wiki.example.test"}, true, []string{"wiki.example.test."}, "udp"},
		{"NXDOMAIN is a failure by default", "A nope.example.test", nil, false, []string{}, "udp"},
		{"NXDOMAIN expected", "A nope.example.test", []string{"rcode == NXDOMAIN", "len(authority) == 1"}, true, []string{}, "udp"},
		{"wrong answer", "A wiki.example.test", []string{"answer contains 192.0.2.99"}, false, nil, "udp"},
		{"outside the zone", "A example.org", []string{"rcode == REFUSED"}, true, nil, "udp"},
		{"truncated over UDP, retried over TCP", "TXT bigtxt.example.test", []string{"len(answer) == 12", "truncated == false"}, true, nil, "tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(config.Check{Name: "dns", Type: "dns", Target: addr, Query: tt.query, Conditions: tt.conds}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Run(context.Background())
			if r.Error != "" {
				t.Fatalf("Error %s", r.Error)
			}
			if r.Success != tt.success {
				t.Errorf("Success = %v, want %v: %+v %v", r.Success, tt.success, r.ConditionResults, r.Values)
			}
			if tt.answer != nil && !slices.Equal(r.Values["answer"].([]string), tt.answer) {
				t.Errorf("answer = %q, want %q", r.Values["answer"], tt.answer)
			}
			if r.Values["transport"] != tt.transport {
				t.Errorf("transport = %v, want %s", r.Values["transport"], tt.transport)
			}
		})
	}
}

func TestDNSProbeUnboundInFront(t *testing.T) {
	nsd := startNSD(t)
	unbound := startUnbound(t, nsd)
	p, err := Compile(config.Check{Name: "resolver", Type: "dns", Target: unbound, Query: "A wiki.example.test",
		Conditions: []string{"answer == 192.0.2.1", "authoritative == false", "recursion_available == true"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The first query may race unbound's start; a resolver answers within
	// a few tries.
	var r Result
	peers.Eventually(t, 20*time.Second, func() bool {
		r = p.Run(context.Background())
		return r.Success
	})
	if r.Values["rcode"] != "NOERROR" {
		t.Errorf("rcode %v", r.Values["rcode"])
	}
	// Names outside example.test are refused, never looked up on the internet.
	p, err = Compile(config.Check{Name: "outside", Type: "dns", Target: unbound, Query: "A example.org",
		Conditions: []string{"rcode == REFUSED"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Run(context.Background()); !r.Success {
		t.Errorf("outside name: %+v %s", r.ConditionResults, r.Error)
	}
}

func TestDNSProbeNoServer(t *testing.T) {
	port := peers.FreePort(t)
	p, err := Compile(config.Check{Name: "dns", Type: "dns", Target: peers.Addr(port), Query: "A wiki.example.test",
		Timeout: config.Duration(300 * time.Millisecond)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Run(context.Background())
	if r.Success || r.Error == "" || r.State != StateCritical {
		t.Fatalf("a dead server passed: %+v", r)
	}
}
