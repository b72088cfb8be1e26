package connguard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serve runs an http.Server on loopback behind a guarded listener; the
// handler reads the whole body, then answers the path.
func serve(t *testing.T, cfg Config, rules []Rule, def Rule) (addr string, l *Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = NewListener(ln, cfg, nil)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusRequestTimeout)
			return
		}
		io.WriteString(w, "ok "+r.URL.Path)
	})
	srv := &http.Server{Handler: Guard(h, rules, def, func(r *http.Request) bool { return r.URL.Path == "/healthz" }),
		ReadHeaderTimeout: 10 * time.Second, ConnState: l.ConnState, ConnContext: l.ConnContext}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), l
}

func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// slowBody starts a POST that promises a body it never finishes.
func slowBody(t *testing.T, c net.Conn, path string) {
	t.Helper()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx", path)
}

// get sends a GET on c and returns the status line's code and the body.
func get(t *testing.T, c net.Conn, path string) (int, string) {
	t.Helper()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// closed waits for the server's end of c to close.
func closed(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err := c.Read(make([]byte, 512))
	for err == nil {
		_, err = c.Read(make([]byte, 512))
	}
	return errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset")
}

func waitOpen(t *testing.T, l *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		l.mu.Lock()
		got := l.general + l.reserved
		l.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPerAddress: one address holding its connections in slow bodies
// gets no more; another address is served.
func TestPerAddress(t *testing.T) {
	addr, l := serve(t, Config{Max: 100, PerAddress: 3}, nil, Rule{})
	for range 3 {
		slowBody(t, dialFrom(t, "127.0.0.1", addr), "/admin/login")
	}
	waitOpen(t, l, 3)
	if !closed(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("a fourth connection from the address was not closed")
	}
	if code, body := get(t, dialFrom(t, "127.0.0.2", addr), "/"); code != 200 || body != "ok /" {
		t.Fatalf("another address: %d %q", code, body)
	}
}

// TestIdleMakesRoom: at the per-address bound, an idle keep-alive
// connection of the address is closed for the new one.
func TestIdleMakesRoom(t *testing.T) {
	addr, l := serve(t, Config{Max: 100, PerAddress: 2, MinIdle: time.Nanosecond}, nil, Rule{})
	idle := dialFrom(t, "127.0.0.1", addr)
	if code, _ := get(t, idle, "/"); code != 200 {
		t.Fatal(code)
	}
	slowBody(t, dialFrom(t, "127.0.0.1", addr), "/x")
	waitOpen(t, l, 2)
	c := dialFrom(t, "127.0.0.1", addr)
	if code, _ := get(t, c, "/"); code != 200 {
		t.Fatalf("new connection: %d", code)
	}
	if !closed(t, idle) {
		t.Fatal("the idle connection stayed open")
	}
}

// TestReserve: with the general part held by slow bodies from many
// addresses, a reserve connection gets /healthz and 503 for the rest.
func TestReserve(t *testing.T) {
	addr, l := serve(t, Config{Max: 6, PerAddress: 2, Reserve: 2, ReserveHeaderTimeout: 200 * time.Millisecond}, nil, Rule{})
	for i := range 4 {
		slowBody(t, dialFrom(t, fmt.Sprintf("127.0.0.%d", 10+i/2), addr), "/admin/login")
	}
	waitOpen(t, l, 4)
	if code, body := get(t, dialFrom(t, "127.0.0.20", addr), "/healthz"); code != 200 {
		t.Fatalf("healthz on the reserve: %d %q", code, body)
	}
	c := dialFrom(t, "127.0.0.21", addr)
	if code, _ := get(t, c, "/"); code != 503 {
		t.Fatalf("a page on the reserve: %d, want 503", code)
	}
	// A reserve connection that sends nothing is closed soon.
	if !closed(t, dialFrom(t, "127.0.0.22", addr)) {
		t.Fatal("a silent reserve connection stayed open")
	}
	// Reserve full too: closed at once.
	dialFrom(t, "127.0.0.23", addr)
	dialFrom(t, "127.0.0.24", addr)
	waitOpen(t, l, 6)
	if !closed(t, dialFrom(t, "127.0.0.25", addr)) {
		t.Fatal("a connection beyond everything stayed open")
	}
}

// TestBodyDeadline: a body sent a byte at a time ends at its rule's
// read deadline, and the connection with it.
func TestBodyDeadline(t *testing.T) {
	addr, _ := serve(t, Config{Max: 10}, []Rule{{Prefix: "/admin/login", Read: 300 * time.Millisecond, Write: time.Second}}, Rule{Read: time.Hour})
	c := dialFrom(t, "127.0.0.1", addr)
	slowBody(t, c, "/admin/login")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("slow body: %d", resp.StatusCode)
	}
}

// TestBusyKeepAliveKept: a keep-alive connection idle for less than
// MinIdle (a client polling every second) is not closed for a newcomer.
func TestBusyKeepAliveKept(t *testing.T) {
	addr, l := serve(t, Config{Max: 100, PerAddress: 2, MinIdle: time.Hour}, nil, Rule{})
	poller := dialFrom(t, "127.0.0.1", addr)
	if code, _ := get(t, poller, "/"); code != 200 {
		t.Fatal(code)
	}
	slowBody(t, dialFrom(t, "127.0.0.1", addr), "/x")
	waitOpen(t, l, 2)
	if !closed(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("a third connection was let in")
	}
	if code, _ := get(t, poller, "/"); code != 200 {
		t.Fatalf("the poller lost its connection: %d", code)
	}
}

// TestWebsocketNoDeadline: a websocket upgrade keeps no read or write
// deadline from the rules: its handler sets its own.
func TestWebsocketNoDeadline(t *testing.T) {
	var got []time.Time
	h := Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil, Rule{Read: time.Second, Write: time.Second}, nil)
	rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder(), set: &got}
	req := httptest.NewRequest("GET", "/api/v1/logs/tail", nil)
	req.Header.Set("Upgrade", "websocket")
	h.ServeHTTP(rec, req)
	if len(got) != 2 || !got[0].IsZero() || !got[1].IsZero() {
		t.Errorf("deadlines %v, want both cleared", got)
	}
	got = nil
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader("body")))
	if len(got) != 2 || got[0].IsZero() || got[1].IsZero() {
		t.Errorf("deadlines %v, want both set", got)
	}
	// Without a body there is nothing to read: only the answer's deadline.
	got = nil
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if len(got) != 2 || !got[0].IsZero() || got[1].IsZero() {
		t.Errorf("deadlines %v, want the write one only", got)
	}
}

// deadlineRecorder records the deadlines a handler is given.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	set *[]time.Time
}

func (d *deadlineRecorder) SetReadDeadline(t time.Time) error { *d.set = append(*d.set, t); return nil }
func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	*d.set = append(*d.set, t)
	return nil
}

// TestLongAnswerKeepsContext: the read deadline bounds the body only. A
// handler that answers after it has passed (a long poll, a long search),
// with or without a body, still has a live context: net/http's
// background read would otherwise fail at the deadline and cancel it.
func TestLongAnswerKeepsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, Config{Max: 10}, nil)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusConflict)
		case <-time.After(time.Second): // four times the read deadline
			io.WriteString(w, "ok")
		}
	})
	srv := &http.Server{Handler: Guard(h, nil, Rule{Read: 250 * time.Millisecond, Write: time.Minute}, nil),
		ReadHeaderTimeout: 10 * time.Second, ConnState: l.ConnState, ConnContext: l.ConnContext}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+"/poll", nil)
		if method == "POST" {
			req, _ = http.NewRequest(method, "http://"+ln.Addr().String()+"/poll", strings.NewReader("a body"))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s answered after the read deadline: %d %s", method, resp.StatusCode, b)
		}
	}
}
