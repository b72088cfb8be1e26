package checker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// TestPingLoopback pings this machine's loopback over both families.
func TestPingLoopback(t *testing.T) {
	for _, target := range []string{"127.0.0.1", "::1"} {
		p, err := Compile(config.Check{Name: "lo", Type: "ping", Target: target, Count: 2}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := p.Run(context.Background())
		if r.Error != "" && strings.Contains(r.Error, "no ICMP socket") {
			peers.Unavailable(t, "%s", r.Error)
		}
		if !r.Success || r.Values["received"] != 2 || r.Values["loss"] != 0.0 || r.Values["ttl"] == nil {
			t.Errorf("%s: %+v", target, r)
		}
	}
}

func TestPingCompile(t *testing.T) {
	for _, c := range []config.Check{
		{Name: "x", Type: "ping", Target: "h", Count: 21},
		{Name: "x", Type: "ping", Target: "h", Conditions: []string{"ttl > 2s"}},
		{Name: "x", Type: "ping", Target: "h", Conditions: []string{"status == 200"}},
	} {
		if _, err := Compile(c, Options{}); err == nil {
			t.Errorf("%+v compiled", c)
		}
	}
	if _, err := Compile(config.Check{Name: "x", Type: "ping", Target: "h", Conditions: []string{"loss < 20", "rtt < 100ms", "ttl >= 50"}}, Options{}); err != nil {
		t.Error(err)
	}
}

// pingIn runs a ping probe inside a namespace (this test binary, run
// there as a helper) and returns its result.
func pingIn(t *testing.T, ns *peers.Netns, c config.Check) Result {
	t.Helper()
	spec, _ := json.Marshal(c)
	cmd := ns.Command(os.Args[0], "-test.run=^TestPingHelper$")
	cmd.Env = append(os.Environ(), "WATCHPOST_PING_HELPER="+string(spec))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	_, js, ok := strings.Cut(string(out), "RESULT ")
	if !ok {
		t.Fatalf("helper printed no result:\n%s", out)
	}
	js, _, _ = strings.Cut(js, "\n")
	var r Result
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("helper result %q: %v", js, err)
	}
	return r
}

// TestPingHelper is the probe's side of pingIn.
func TestPingHelper(t *testing.T) {
	spec := os.Getenv("WATCHPOST_PING_HELPER")
	if spec == "" {
		t.Skip("run by pingIn inside a namespace")
	}
	var c config.Check
	json.Unmarshal([]byte(spec), &c)
	p, err := Compile(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Run(context.Background())
	js, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", js)
}

// TestPingResponderHelper answers echo requests 60 ms late with TTL 33:
// the far side of TestPingNamespaces' delay, since this machine's kernel
// has no netem.
func TestPingResponderHelper(t *testing.T) {
	if os.Getenv("WATCHPOST_PING_RESPONDER") == "" {
		t.Skip("run by TestPingNamespaces inside a namespace")
	}
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.IPv4PacketConn().SetTTL(33); err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY")
	buf := make([]byte, 1500)
	for {
		n, src, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEcho {
			continue
		}
		e := m.Body.(*icmp.Echo)
		reply, _ := (&icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: &icmp.Echo{ID: e.ID, Seq: e.Seq, Data: e.Data}}).Marshal(nil)
		time.AfterFunc(60*time.Millisecond, func() { c.WriteTo(reply, src) })
	}
}

// TestPingNamespaces pings addresses in namespaces the test makes: one
// whose kernel drops every fourth echo reply (nftables numgen, so the
// loss is exact), over IPv4 with a raw socket and over IPv6 with an
// unprivileged one (ping_group_range set in the prober's namespace); and
// one where a responder answers 60 ms late with TTL 33.
func TestPingNamespaces(t *testing.T) {
	peers.Require(t, "ip", "nft")
	a, b, c := peers.NewNetns(t), peers.NewNetns(t), peers.NewNetns(t)
	peers.Link(t, a, b, []string{"192.0.2.1/24", "2001:db8:1::1/64"}, []string{"192.0.2.2/24", "2001:db8:1::2/64"})
	peers.Link(t, a, c, []string{"198.51.100.1/24"}, []string{"198.51.100.2/24"})
	nft := b.Command("nft", "-f", "-")
	nft.Stdin = strings.NewReader(`table inet watchpost_test {
	chain out {
		type filter hook output priority 0;
		icmp type echo-reply numgen inc mod 4 == 0 drop
		icmpv6 type echo-reply numgen inc mod 4 == 0 drop
	}
}
`)
	if out, err := nft.CombinedOutput(); err != nil {
		peers.Unavailable(t, "nft: %v: %s", err, out)
	}

	t.Run("raw IPv4, every fourth reply dropped", func(t *testing.T) {
		r := pingIn(t, a, config.Check{Name: "b", Type: "ping", Target: "192.0.2.2", Count: 8, Timeout: config.Duration(20 * time.Second)})
		if r.Values["sent"] != 8.0 || r.Values["received"] != 6.0 || r.Values["loss"] != 25.0 || r.Values["ttl"] != 64.0 || r.Values["icmp_socket"] != "raw" {
			t.Errorf("%+v", r)
		}
		if !r.Success {
			t.Errorf("loss < 100 failed: %+v", r)
		}
	})
	t.Run("unprivileged IPv6, every fourth reply dropped", func(t *testing.T) {
		a.Sysctl("net/ipv4/ping_group_range", "0 2147483647")
		defer a.Sysctl("net/ipv4/ping_group_range", "1 0")
		r := pingIn(t, a, config.Check{Name: "b6", Type: "ping", Target: "2001:db8:1::2", Count: 8, Timeout: config.Duration(20 * time.Second),
			Conditions: []string{"loss < 20"}})
		if r.Values["received"] != 6.0 || r.Values["loss"] != 25.0 || r.Values["ttl"] != 64.0 || r.Values["icmp_socket"] != "unprivileged" {
			t.Errorf("%+v", r)
		}
		if r.Success || len(r.ConditionResults) != 1 || r.ConditionResults[0].Detail != "loss 25" {
			t.Errorf("loss < 20 should fail with 25: %+v", r.ConditionResults)
		}
	})
	t.Run("60 ms late, TTL 33", func(t *testing.T) {
		c.Sysctl("net/ipv4/icmp_echo_ignore_all", "1")
		resp := c.Command(os.Args[0], "-test.run=^TestPingResponderHelper$")
		resp.Env = append(os.Environ(), "WATCHPOST_PING_RESPONDER=1")
		pr := peers.StartCmd(t, resp)
		waitFor(t, func() bool { return strings.Contains(pr.Output(), "READY") })
		r := pingIn(t, a, config.Check{Name: "c", Type: "ping", Target: "198.51.100.2", Count: 3, Timeout: config.Duration(20 * time.Second),
			Conditions: []string{"rtt > 50ms", "ttl == 33"}})
		ns, _ := r.Values["rtt_min"].(float64) // a Duration, through JSON
		min := time.Duration(ns)
		if !r.Success || r.Values["received"] != 3.0 || min < 60*time.Millisecond {
			t.Errorf("%+v (rtt_min %v)", r, min)
		}
	})
	t.Run("nothing there", func(t *testing.T) {
		r := pingIn(t, a, config.Check{Name: "none", Type: "ping", Target: "192.0.2.99", Count: 2, Timeout: config.Duration(5 * time.Second)})
		if r.Success || r.Values["loss"] != 100.0 || r.Values["received"] != 0.0 {
			t.Errorf("%+v", r)
		}
	})
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
