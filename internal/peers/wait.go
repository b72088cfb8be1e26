package peers

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// pollInterval paces the waiting helpers: short enough that a peer that is
// up in 0.1 s costs no more, long enough not to spin on a 2-core machine.
const pollInterval = 20 * time.Millisecond

// FreePort returns a port that was free for both TCP and UDP on 127.0.0.1
// (a syslog listener takes both). Another process may take it before the
// caller binds it; a peer that fails to bind shows that in its output.
func FreePort(t testing.TB) int {
	t.Helper()
	var lastErr error
	for range 50 {
		port, err := freePort()
		if err == nil {
			return port
		}
		lastErr = err
	}
	t.Fatalf("no free TCP+UDP port on 127.0.0.1: %v", lastErr)
	return 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listen tcp: %w", err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return 0, fmt.Errorf("listen udp %d: %w", port, err)
	}
	u.Close()
	return port, nil
}

// Addr is "127.0.0.1:port", for peers' configuration files.
func Addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// WaitTCP waits until addr accepts a TCP connection, failing the test after
// timeout. Prefer Process.WaitTCP for a peer started here: it stops waiting
// when the peer dies.
func WaitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !dialOK(addr) {
		if time.Now().After(deadline) {
			t.Fatalf("%s not accepting connections after %v", addr, timeout)
			return
		}
		time.Sleep(pollInterval)
	}
}

func dialOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Eventually polls cond until it returns true, failing the test after
// timeout. It is for waiting on another process (a peer delivering mail,
// rsyslog forwarding a line); code under test with an injected clock needs
// no polling.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
			return
		}
		time.Sleep(wait)
		// Back off to pollInterval: fast conditions resolve fast, slow
		// ones do not burn the CPU.
		wait = min(2*wait, pollInterval)
	}
}
