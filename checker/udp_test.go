package checker

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// udpEcho answers each datagram with "pong: " and what came, as a game
// server's query port or a status responder would.
func udpEcho(t *testing.T, network, addr string) string {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		if peers.InCI() {
			t.Fatalf("%s: %v", network, err)
		}
		t.Skipf("%s: %v", network, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if strings.HasPrefix(string(buf[:n]), "silent") {
				continue
			}
			pc.WriteTo(append([]byte("pong: "), buf[:n]...), from)
		}
	}()
	return pc.LocalAddr().String()
}

func runCheck(t *testing.T, c config.Check) Result {
	t.Helper()
	if c.Name == "" {
		c.Name = "u"
	}
	if c.Timeout == 0 {
		c.Timeout = config.Duration(5 * time.Second)
	}
	p, err := Compile(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Run(context.Background())
}

func TestUDP(t *testing.T) {
	addr := udpEcho(t, "udp4", "127.0.0.1:0")
	r := runCheck(t, config.Check{Type: "udp", Target: addr, Body: "\xff\xffping", Conditions: []string{`body == "pong: \xff\xffping"`, "replied == true"}})
	if !r.Success {
		t.Errorf("echo: %+v", r)
	}
	// No condition reads the reply: sending is all.
	r = runCheck(t, config.Check{Type: "udp", Target: addr, Body: "silent"})
	if !r.Success || r.Values["replied"] != false {
		t.Errorf("fire and forget: %+v", r)
	}
	// A reply is wanted and none comes: down, saying so.
	r = runCheck(t, config.Check{Type: "udp", Target: addr, Body: "silent", Conditions: []string{`body contains "pong"`}, Timeout: config.Duration(time.Second)})
	if r.Success || !strings.Contains(r.Error, "no reply within 1s") {
		t.Errorf("silent: %+v", r)
	}
	// replied == false can be what is wanted (a port that must not answer).
	r = runCheck(t, config.Check{Type: "udp", Target: addr, Body: "silent", Conditions: []string{"replied == false"}, Timeout: config.Duration(time.Second)})
	if !r.Success {
		t.Errorf("must not answer: %+v", r)
	}
	// Nothing listens: the kernel's port unreachable is the answer.
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	closed := pc.LocalAddr().String()
	pc.Close()
	r = runCheck(t, config.Check{Type: "udp", Target: closed, Body: "x", Conditions: []string{"replied == true"}})
	if r.Success || !strings.Contains(r.Error, "port unreachable") {
		t.Errorf("closed port: %+v", r)
	}
	// JSON replies are read as the http body is.
	addr6 := udpEcho(t, "udp6", "[::1]:0")
	r = runCheck(t, config.Check{Type: "udp", Target: addr6, Body: "{}", Conditions: []string{`body contains "pong"`}})
	if !r.Success || r.Values["ip"] != "::1" {
		t.Errorf("v6: %+v", r)
	}
	if _, err := Compile(config.Check{Name: "u", Type: "udp", Target: "host"}, Options{}); err == nil {
		t.Error("a udp target without a port compiled")
	}
}
