package syslogd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/logparse"
)

var fixedNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// sink collects what the handler receives.
type sink struct {
	mu   sync.Mutex
	msgs []Message
}

func (s *sink) handle(_ context.Context, msgs []Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, msgs...)
}

func (s *sink) snapshot() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// waitFor polls until cond holds for the received messages; the deadline
// only bounds a failing test.
func (s *sink) waitFor(t *testing.T, what string, cond func([]Message) bool) []Message {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := s.snapshot()
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; got %d messages: %v", what, len(got), raws(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func atLeast(n int) func([]Message) bool { return func(m []Message) bool { return len(m) >= n } }

func raws(msgs []Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Raw)
	}
	return out
}

type testServer struct {
	*Server
	sink *sink
	set  *metrics.Set
	stop func() // cancels Serve and waits for it to return
}

func startServer(t *testing.T, cfg Config, udp, tcp bool, tlsCfg *tls.Config) *testServer {
	t.Helper()
	ts := &testServer{sink: &sink{}, set: metrics.NewSet()}
	ts.Server = New(cfg, ts.sink.handle, ts.set, nil, func() time.Time { return fixedNow })
	if udp {
		if err := ts.ListenUDP("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	if tcp {
		if err := ts.ListenTCP("127.0.0.1:0", nil); err != nil {
			t.Fatal(err)
		}
	}
	if tlsCfg != nil {
		if err := ts.ListenTCP("127.0.0.1:0", tlsCfg); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ctx) }()
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) metric(t *testing.T, name string) string {
	t.Helper()
	var b bytes.Buffer
	ts.set.WritePrometheus(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}

func dial(t *testing.T, network string, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial(network, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

func TestUDP(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 16}, true, false, nil)
	c := dial(t, "udp", ts.UDPAddr())
	write(t, c, "<13>one\n")
	write(t, c, "<13>two\x00")
	write(t, c, "\n") // empty after trimming: dropped
	write(t, c, "<13>three is far too long")
	got := ts.sink.waitFor(t, "3 datagrams", atLeast(3))
	if want := []string{"<13>one", "<13>two", "<13>three is far"}; fmt.Sprint(raws(got)) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", raws(got), want)
	}
	for _, m := range got {
		if m.Transport != "udp" || !m.Received.Equal(fixedNow) || HostOf(logparse.NewEvent(), m.Remote) != "127.0.0.1" {
			t.Errorf("bad message metadata: %+v", m)
		}
	}
	if v := ts.metric(t, `watchpost_syslog_truncated_total{transport="udp"}`); v != "1" {
		t.Errorf("truncated = %q, want 1", v)
	}
	if v := ts.metric(t, `watchpost_syslog_frames_total{transport="udp"}`); v != "3" {
		t.Errorf("frames = %q, want 3", v)
	}
}

func TestTCPFramingAcrossWrites(t *testing.T) {
	ts := startServer(t, Config{}, false, true, nil)
	c := dial(t, "tcp", ts.TCPAddr())
	// Frames split at awkward points across separate writes.
	for _, part := range []string{"<13>a\n1", "1 <13>b octet", "\n<13>c", " nul\x00", "<13>d\r\n"} {
		write(t, c, part)
	}
	got := ts.sink.waitFor(t, "4 frames", atLeast(4))
	if want := []string{"<13>a", "<13>b octet", "<13>c nul", "<13>d"}; fmt.Sprint(raws(got)) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", raws(got), want)
	}
	if got[0].Transport != "tcp" || got[0].Remote.String() != c.LocalAddr().String() {
		t.Errorf("metadata: %+v", got[0])
	}
}

// TestGarbageConnection: one connection sends junk, oversized frames and
// bad prefixes; another connection's messages arrive intact.
func TestGarbageConnection(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 32}, false, true, nil)
	bad := dial(t, "tcp", ts.TCPAddr())
	good := dial(t, "tcp", ts.TCPAddr())
	write(t, bad, "0 x\n1234567890 y\n")
	write(t, bad, strings.Repeat("z", 1000)+"\n")
	write(t, bad, "999999 "+strings.Repeat("q", 500))
	for i := range 50 {
		write(t, good, fmt.Sprintf("<13>good %d\n", i))
	}
	bad.Close()
	msgs := ts.sink.waitFor(t, "all good frames", func(m []Message) bool {
		n := 0
		for _, x := range m {
			if strings.HasPrefix(string(x.Raw), "<13>good ") {
				n++
			}
		}
		return n == 50
	})
	n := 0
	for _, m := range msgs {
		if s := string(m.Raw); strings.HasPrefix(s, "<13>good ") {
			if s != fmt.Sprintf("<13>good %d", n) {
				t.Errorf("good frame %d = %q", n, s)
			}
			n++
		}
		if len(m.Raw) > 32 {
			t.Errorf("frame of %d bytes passed the limit", len(m.Raw))
		}
	}
	ts.sink.waitFor(t, "bad connection's frames", func(m []Message) bool { return len(m) >= 54 })
	if v := ts.metric(t, `watchpost_syslog_framing_errors_total{transport="tcp"}`); v != "2" {
		t.Errorf("framing errors = %q, want 2 (two bad prefixes)", v)
	}
	if v := ts.metric(t, `watchpost_syslog_truncated_total{transport="tcp"}`); v != "2" {
		t.Errorf("truncated = %q, want 2", v)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, Config{IdleTimeout: 50 * time.Millisecond}, false, true, nil)
	c := dial(t, "tcp", ts.TCPAddr())
	write(t, c, "<13>hi\n")
	// The server closes the connection; the read only returns then. The
	// deadline bounds a failing test.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read = %v, want EOF from the server closing an idle connection", err)
	}
	ts.sink.waitFor(t, "the frame", atLeast(1))
}

// dialFrom connects from a given loopback address (127.0.0.0/8 is all
// this host's), so a test has several peers.
func dialFrom(t *testing.T, from string, addr net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer waits for the server's end of c to close.
func closedByServer(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: read = %v, want EOF (closed to make room)", what, err)
	}
}

// TestFullMakesRoom: idle connections filling the caps never cost a new
// sender its line. Over the per-peer limit the peer's own longest-idle
// connection is closed; over the total, the longest-idle of all; the new
// connection's line arrives, and Pressure hears of each.
func TestFullMakesRoom(t *testing.T) {
	var mu sync.Mutex
	var pressure []Pressure
	ts := startServer(t, Config{MaxConnections: 4, MaxPerPeer: 2, Pressure: func(p Pressure) {
		mu.Lock()
		pressure = append(pressure, p)
		mu.Unlock()
	}}, false, true, nil)
	// Each sends a line, so the server has seen it and knows when it was
	// last active: a1 is the longest idle.
	var conns []net.Conn
	for i, from := range []string{"127.0.0.1", "127.0.0.1"} {
		c := dialFrom(t, from, ts.TCPAddr())
		write(t, c, fmt.Sprintf("<13>a%d\n", i+1))
		ts.sink.waitFor(t, "the line", atLeast(i+1))
		conns = append(conns, c)
	}
	a3 := dialFrom(t, "127.0.0.1", ts.TCPAddr())
	closedByServer(t, conns[0], "a1 over the peer's limit")
	for i, from := range []string{"127.0.0.2", "127.0.0.2"} {
		c := dialFrom(t, from, ts.TCPAddr())
		write(t, c, fmt.Sprintf("<13>b%d\n", i+1))
		ts.sink.waitFor(t, "the line", atLeast(3+i))
		conns = append(conns, c)
	}
	write(t, a3, "<13>a3\n")
	ts.sink.waitFor(t, "a3", atLeast(5))
	// Four open (a2, a3, b1, b2): a new sender makes a2 go.
	c1 := dialFrom(t, "127.0.0.3", ts.TCPAddr())
	write(t, c1, "<13>from a new sender\n")
	c1.Close()
	closedByServer(t, conns[1], "a2 over the total")
	got := ts.sink.waitFor(t, "the new sender's line", atLeast(6))
	if last := string(got[len(got)-1].Raw); last != "<13>from a new sender" {
		t.Errorf("last line %q", last)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pressure) != 2 || pressure[0].Reason != "peer" || pressure[1].Reason != "total" ||
		!strings.HasPrefix(pressure[1].New.String(), "127.0.0.3:") || !strings.HasPrefix(pressure[1].Closed.String(), "127.0.0.1:") {
		t.Errorf("pressure %+v", pressure)
	}
	if v := ts.metric(t, "watchpost_syslog_connections_evicted_total"); v != "2" {
		t.Errorf("evicted = %q", v)
	}
}

// TestFullLoggerLineArrives is the report's case with the real logger:
// the listener full of idle connections, `logger -T` still gets its line
// stored.
func TestFullLoggerLineArrives(t *testing.T) {
	paths := peers.Require(t, "logger")
	ts := startServer(t, Config{MaxConnections: 20}, false, true, nil)
	for range 20 {
		dialFrom(t, "127.0.0.5", ts.TCPAddr())
	}
	for ts.metric(t, "watchpost_syslog_connections_open") != "20" {
		time.Sleep(5 * time.Millisecond)
	}
	_, port, _ := net.SplitHostPort(ts.TCPAddr().String())
	out, err := exec.Command(paths["logger"], "--rfc5424", "--octet-count", "-T", "-n", "127.0.0.1", "-P", port, "-t", "app", "line past the idle ones").CombinedOutput()
	if err != nil {
		t.Fatalf("logger: %v %s", err, out)
	}
	ts.sink.waitFor(t, "logger's line", func(m []Message) bool {
		return len(m) == 1 && strings.Contains(string(m[0].Raw), "line past the idle ones")
	})
}

// TestShutdownDelivers: what was received before cancellation reaches the
// handler before Serve returns.
func TestShutdownDelivers(t *testing.T) {
	ts := startServer(t, Config{BatchDelay: time.Hour, BatchSize: 1000}, false, true, nil)
	c := dial(t, "tcp", ts.TCPAddr())
	for i := range 100 {
		write(t, c, fmt.Sprintf("<13>m%d\n", i))
	}
	c.Close()
	// Wait until the server has read everything (its connection closed),
	// then stop it: the batch is still waiting for BatchDelay.
	deadline := time.Now().Add(10 * time.Second)
	for ts.metric(t, "watchpost_syslog_connections_open") != "0" || ts.metric(t, `watchpost_syslog_frames_total{transport="tcp"}`) != "100" {
		if time.Now().After(deadline) {
			t.Fatal("server did not read the connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts.stop()
	if got := ts.sink.snapshot(); len(got) != 100 {
		t.Fatalf("handler got %d messages after shutdown, want 100", len(got))
	}
}

func TestBatching(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	srv := New(Config{BatchSize: 10, BatchDelay: time.Hour}, func(_ context.Context, m []Message) {
		mu.Lock()
		sizes = append(sizes, len(m))
		mu.Unlock()
	}, nil, nil, nil)
	if err := srv.ListenTCP("127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx) }()
	c := dial(t, "tcp", srv.TCPAddr())
	write(t, c, strings.Repeat("<13>x\n", 25))
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(sizes)
		mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("batch sizes %v, want [10 10 5] (full batches, then the rest at shutdown)", sizes)
	}
}

func TestTLS(t *testing.T) {
	cert := selfSigned(t)
	ts := startServer(t, Config{}, false, false, &tls.Config{Certificates: []tls.Certificate{cert}})
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c, err := tls.Dial("tcp", ts.TLSAddr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	write(t, c, "23 <13>1 - h app - - - tls")
	got := ts.sink.waitFor(t, "tls frame", atLeast(1))
	if string(got[0].Raw) != "<13>1 - h app - - - tls" || got[0].Transport != "tls" {
		t.Errorf("got %+v", got[0])
	}
	// A plain-text client on the TLS port is a counted handshake error.
	p := dial(t, "tcp", ts.TLSAddr())
	write(t, p, "<13>not tls\n")
	_ = p.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.ReadAll(p)
	if v := ts.metric(t, "watchpost_syslog_tls_handshake_errors_total"); v != "1" {
		t.Errorf("handshake errors = %q, want 1", v)
	}
	if ts.TCPAddr() != nil {
		t.Errorf("TCPAddr = %v without a plain listener", ts.TCPAddr())
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loghost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestServeErrors(t *testing.T) {
	srv := New(Config{}, func(context.Context, []Message) {}, nil, nil, nil)
	if err := srv.Serve(context.Background()); err == nil {
		t.Error("Serve without listeners succeeded")
	}
	if err := srv.ListenUDP("127.0.0.1:0"); !errors.Is(err, errServing) {
		t.Errorf("ListenUDP after Serve: %v", err)
	}
	srv = New(Config{}, nil, nil, nil, nil)
	if err := srv.ListenTCP("256.0.0.1:0", nil); err == nil {
		t.Error("bad address accepted")
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
}

func TestHostOf(t *testing.T) {
	ev := func(h string) logparse.Event { e := logparse.NewEvent(); e.Host = h; return e }
	tests := []struct {
		host   string
		remote net.Addr
		want   string
	}{
		{"web1", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 514}, "web1"},
		{"", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 514}, "192.0.2.1"},
		{"-", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 514}, "2001:db8::1"},
		{"", &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.9"), Port: 514}, "192.0.2.9"},
		{"", &net.UnixAddr{Name: "/dev/log", Net: "unixgram"}, "/dev/log"},
		{"", nil, ""},
	}
	for _, tt := range tests {
		if got := HostOf(ev(tt.host), tt.remote); got != tt.want {
			t.Errorf("HostOf(%q, %v) = %q, want %q", tt.host, tt.remote, got, tt.want)
		}
	}
}
