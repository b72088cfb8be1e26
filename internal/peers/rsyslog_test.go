package peers

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealPeerRsyslog is the package's own use of a real peer, the way other
// packages' tests use it: Require it, configure it on a free loopback port,
// start it in the foreground, wait for the port, talk to it.
func TestRealPeerRsyslog(t *testing.T) {
	Require(t, "rsyslogd")
	dir := t.TempDir()
	port := FreePort(t)
	out := filepath.Join(dir, "out.log")
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="%d")
*.* action(type="omfile" file=%q)
`, dir, port, out)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := Start(t, "rsyslogd", "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	p.WaitTCP(Addr(port), 30*time.Second)

	c, err := net.Dial("tcp", Addr(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "<13>Nov 22 21:37:02 web1 demo: hello from peers\n"); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 30*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "hello from peers")
	})
}
