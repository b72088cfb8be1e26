package peers

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// Netns is a network namespace a test made, removed when the test ends.
// Addresses inside it are the test's own (192.0.2.0/24, 198.51.100.0/24,
// 2001:db8::/32): nothing leaves the machine.
type Netns struct {
	Name string
	t    testing.TB
}

var netnsSeq atomic.Int64

// NewNetns makes an empty namespace with its loopback up. It needs root
// and iproute2: without them the test skips on a laptop and fails under
// CI=true.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	RequireRoot(t, "network namespaces")
	Require(t, "ip")
	name := fmt.Sprintf("wp%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		Unavailable(t, "ip netns add: %v: %s", err, out)
	}
	n := &Netns{Name: name, t: t}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	n.Run("ip", "link", "set", "lo", "up")
	return n
}

// Run runs a command inside the namespace and fails the test if it fails.
func (n *Netns) Run(args ...string) string {
	n.t.Helper()
	out, err := n.Command(args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("in %s: %s: %v\n%s", n.Name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Command is a command to run inside the namespace.
func (n *Netns) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Sysctl sets a value under /proc/sys inside the namespace
// ("net/ipv4/ping_group_range").
func (n *Netns) Sysctl(key, value string) {
	n.t.Helper()
	n.Run("sh", "-c", fmt.Sprintf("echo '%s' > /proc/sys/%s", value, key))
}

// Link joins two namespaces with a veth pair and gives each end its
// addresses (CIDR; IPv6 ones without duplicate address detection, so they
// are usable at once).
func Link(t testing.TB, a, b *Netns, aAddrs, bAddrs []string) {
	t.Helper()
	seq := netnsSeq.Add(1)
	ea, eb := fmt.Sprintf("wpv%da", seq), fmt.Sprintf("wpv%db", seq)
	a.Run("ip", "link", "add", ea, "type", "veth", "peer", "name", eb, "netns", b.Name)
	for _, x := range []struct {
		ns    *Netns
		dev   string
		addrs []string
	}{{a, ea, aAddrs}, {b, eb, bAddrs}} {
		for _, ad := range x.addrs {
			args := []string{"ip", "addr", "add", ad, "dev", x.dev}
			if strings.Contains(ad, ":") {
				args = append(args, "nodad")
			}
			x.ns.Run(args...)
		}
		x.ns.Run("ip", "link", "set", x.dev, "up")
	}
}
