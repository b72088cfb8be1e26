package munin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveNode runs a Node over a Runner of small shell plugins.
func serveNode(t *testing.T, mod func(*NodeOptions)) string {
	t.Helper()
	pd, cd := writePlugins(t, map[string]string{
		"load": loadPlugin,
		"slow": "if [ \"$1\" = config ]; then echo 'graph_title s'; exit 0; fi; sleep 30\n",
		"bad":  "if [ \"$1\" = config ]; then echo 'graph_title b'; exit 0; fi; echo 'x.value 1'; exit 2\n",
		"multi": "if [ \"$1\" = config ]; then printf 'multigraph m1\\ngraph_title M\\na.label a\\n'; exit 0; fi\n" +
			"printf 'multigraph m1\\r\\n\\r\\na.value 3\\n'\n",
		"dirty":   "if [ \"$1\" = config ]; then echo 'graph_title D'; echo 'd.label d'; [ \"$MUNIN_CAP_DIRTYCONFIG\" = 1 ] && echo 'd.value 4'; echo 'e.value 5'; exit 0; fi; echo 'd.value 4'\n",
		"remote":  "if [ \"$1\" = config ]; then echo 'host_name Remote.Example'; echo 'graph_title R'; exit 0; fi; echo 'r.value 1'\n",
		"noconf":  "exit 0\n",
		"master":  "if [ \"$1\" = config ]; then echo 'graph_title ip'; exit 0; fi; echo \"# $MUNIN_MASTER_IP\"\n",
		"timeout": "if [ \"$1\" = config ]; then sleep 30; fi\n",
	}, "[slow]\ntimeout 1\n[timeout]\ntimeout 1\n")
	r := newTestRunner(t, pd, cd, nil)
	o := NodeOptions{Source: r, Hostname: "node.example"}
	if mod != nil {
		mod(&o)
	}
	n, err := NewNode(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); n.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ln.Addr().String()
}

// session sends raw input and returns everything the node wrote until it
// closed the connection.
func session(t *testing.T, addr, input string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprint(c, input)
	var b strings.Builder
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		b.WriteString(l)
		if err != nil {
			return b.String()
		}
	}
}

func TestNodeSession(t *testing.T) {
	addr := serveNode(t, nil)
	tests := []struct {
		name, in, want string
	}{
		{"list hides multigraph and dirty plugins", "list\n", "bad load master slow\n"},
		{"cap multigraph shows multigraph", "cap multigraph\nlist\n", "cap multigraph dirtyconfig\nbad load master multi slow\n"},
		{"CRLF cap", "cap multigraph dirtyconfig\r\nlist\r\n", "cap multigraph dirtyconfig\nbad dirty load master multi slow\n"},
		{"host_name puts a plugin on its node", "list remote.example\nnodes\n", "remote\nnode.example\nremote.example\n.\n"},
		{"timed out", "fetch slow\n", "# Timed out\n.\n"},
		{"bad exit", "fetch bad\n", "# Bad exit\n.\n"},
		{"config that timed out at start is unknown", "fetch timeout\nfetch noconf\n", "# Unknown service\n.\n# Unknown service\n.\n"},
		{"output lines as munin-node splits them", "fetch multi\n", "multigraph m1\na.value 3\n.\n"},
		{"dirtyconfig env", "config dirty\ncap dirtyconfig\nconfig dirty\n", "graph_title D\nd.label d\ne.value 5\n.\ncap multigraph dirtyconfig\ngraph_title D\nd.label d\nd.value 4\ne.value 5\n.\n"},
		{"master ip", "fetch master\n", "# 127.0.0.1\n.\n"},
		{"commands are prefixes, case-insensitive", "VERSIONx\nfetchload\n.\nlist\n", "munins node on node.example version: 2.0.73\nload.value 0.5\n.\n"},
		{"path is not a service", "fetch ../load\nconfig /bin/sh\n", "# Unknown service\n.\n# Unknown service\n.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := session(t, addr, tt.in+"quit\n")
			want := "# munin node at node.example\n" + tt.want
			if got != want {
				t.Errorf("got\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestNodeLimits(t *testing.T) {
	addr := serveNode(t, func(o *NodeOptions) {
		o.MaxLine = 64
		o.MaxClients = 1
		o.IdleTimeout = 300 * time.Millisecond
	})
	if got := session(t, addr, strings.Repeat("x", 200)+"\nversion\n"); got != "# munin node at node.example\n" {
		t.Errorf("long line: %q", got)
	}
	// One client holds the only slot; a second is closed at once. The
	// long-line session above may not have given its slot back yet, so the
	// holder retries until it is answered.
	var c net.Conn
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		c, err = net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		r := bufio.NewReader(c)
		r.ReadString('\n')
		fmt.Fprint(c, "version\n")
		if line, _ := r.ReadString('\n'); strings.HasPrefix(line, "munins node") {
			c.SetDeadline(time.Time{})
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("holder never got the slot")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The holder keeps talking while the second client tries, so it
	// never idles out however slowly this machine runs the test.
	stop := make(chan struct{})
	talked := make(chan struct{})
	go func() {
		defer close(talked)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				fmt.Fprint(c, "version\n")
			}
		}
	}()
	if got := session(t, addr, "version\n"); got != "" {
		t.Errorf("second client served: %q", got)
	}
	close(stop)
	<-talked
	c.Close()
	// The idle one is dropped after IdleTimeout: the server closes it
	// (EOF), long before the test's own deadline would end the read.
	c, _ = net.Dial("tcp", addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	var err error
	for err == nil {
		_, err = r.ReadString('\n')
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("idle client: %v, want the server to close the connection", err)
	}
}

func TestNodeAllow(t *testing.T) {
	addr := serveNode(t, func(o *NodeOptions) { o.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	if got := session(t, addr, "version\n"); got != "" {
		t.Errorf("denied client got %q", got)
	}
}

func TestClientAgainstNode(t *testing.T) {
	addr := serveNode(t, nil)
	host, graphs, fetches, err := Poll(context.Background(), addr, 10*time.Second)
	if host != "node.example" {
		t.Errorf("host %q", host)
	}
	if !errors.Is(err, ErrTimedOut) {
		t.Errorf("slow plugin: %v", err)
	}
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Errorf("bad plugin: %v", err)
	}
	var names []string
	for _, g := range graphs {
		names = append(names, g.Name)
	}
	if want := []string{"bad", "load", "master", "m1", "slow"}; !reflect.DeepEqual(names, want) {
		t.Errorf("graphs %v, want %v", names, want)
	}
	want := []Fetch{{Graph: "load", Values: []Value{{Field: "load", Value: 0.5}}}, {Graph: "m1", Values: []Value{{Field: "a", Value: 3}}}}
	if !reflect.DeepEqual(fetches, want) {
		t.Errorf("fetches %+v", fetches)
	}
}

// FuzzClient feeds a hostile node's bytes to the poller: it must end
// with an error or data, never panic or hang.
func FuzzClient(f *testing.F) {
	f.Add([]byte("# munin node at x\ncap multigraph\nload\ngraph_title L\nload.label l\n.\nload.value 1\n.\n"))
	f.Add([]byte("# munin node at x\ncap\na b c\n# Unknown service\n.\n# Timed out\n.\n# Bad exit\n.\n"))
	f.Add([]byte("# munin node at x\n\n\n"))
	f.Add([]byte("hello\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		server, client := net.Pipe()
		go func() {
			// Drain what the client sends so its writes never block.
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := server.Read(buf); err != nil {
						return
					}
				}
			}()
			server.Write(b)
			server.Close()
		}()
		c := NewClient(client, 2*time.Second)
		if err := c.ReadBanner(); err != nil {
			client.Close()
			return
		}
		c.Poll(context.Background())
	})
}

func staticSource() *StaticSource {
	s := &StaticSource{}
	s.Set("load", []Graph{{Name: "load", Title: "Load", Fields: []Field{{Name: "load", Label: "load"}}}},
		[]Fetch{{Graph: "load", Values: []Value{{Field: "load", Value: 0.25}}}})
	s.Set("disk", []Graph{{Name: "disk_io", Title: "IO"}, {Name: "disk_io.sda", Title: "sda"}},
		[]Fetch{{Graph: "disk_io", Values: []Value{{Field: "r", Unknown: true}}}, {Graph: "disk_io.sda", Values: []Value{{Field: "r", Time: 5, Value: 1}}}})
	return s
}

func TestStaticSourceNode(t *testing.T) {
	n, err := NewNode(NodeOptions{Source: staticSource(), Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	go n.ServeConn(context.Background(), server)
	c := NewClient(client, 5*time.Second)
	if err := c.ReadBanner(); err != nil {
		t.Fatal(err)
	}
	host, graphs, fetches, err := c.Poll(context.Background())
	if err != nil || host != "h" || len(graphs) != 3 || len(fetches) != 3 {
		t.Fatalf("%q %+v %+v %v", host, graphs, fetches, err)
	}
	if fetches[0].Graph != "disk_io" || !fetches[0].Values[0].Unknown || fetches[1].Values[0].Time != 5 {
		t.Errorf("fetches %+v", fetches)
	}
}

// FuzzNodeSession feeds a hostile master's bytes to the Node.
func FuzzNodeSession(f *testing.F) {
	f.Add([]byte("cap multigraph\nlist\nconfig disk\nfetch load\nnodes\nversion\nquit\n"))
	f.Add([]byte("list h\r\nfetch\nconfig \x00\n" + strings.Repeat("x", 5000) + "\n"))
	n, err := NewNode(NodeOptions{Source: staticSource(), Hostname: "h", IdleTimeout: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		server, client := net.Pipe()
		done := make(chan struct{})
		go func() { defer close(done); n.ServeConn(context.Background(), server) }()
		go func() {
			client.Write(b)
			client.Close()
		}()
		buf := make([]byte, 4096)
		for {
			if _, err := client.Read(buf); err != nil {
				break
			}
		}
		<-done
	})
}
