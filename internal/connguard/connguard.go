// Package connguard keeps an HTTP server answering under a flood of
// connections: it bounds the connections in all and per client address,
// closes idle keep-alive connections to make room, keeps a reserve of
// connections for the requests that must get through (ingest, /healthz),
// and gives every request a read and write deadline that fits what it
// sends and receives.
//
// Wrap the raw TCP listener with NewListener (under TLS, so a handshake
// counts too), set the server's ConnState and ConnContext to the
// listener's, and wrap the handler with Guard.
package connguard

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Config bounds the connections of one listener.
type Config struct {
	// Max is the connections open at once, the reserve included.
	Max int
	// PerAddress is the connections of one client address (an IPv6
	// client's /64) at once. 0: no bound (behind a reverse proxy, every
	// client has the proxy's address).
	PerAddress int
	// Reserve is the part of Max a connection gets only when the rest is
	// taken. Such a connection must send its request line and headers
	// within ReserveHeaderTimeout, and may only make priority requests
	// (Guard's priority); anything else gets 503 and the connection is
	// closed.
	Reserve              int
	ReserveHeaderTimeout time.Duration
	// MinIdle is how long a keep-alive connection must have been idle
	// before it may be closed to make room (default 5 s): a client that
	// polls or ships every second keeps its connection, and with it its
	// way in, however many new connections a flood opens.
	MinIdle time.Duration
}

// Listener is a net.Listener that applies a Config.
type Listener struct {
	net.Listener
	cfg Config

	mu       sync.Mutex
	general  int            // open connections outside the reserve
	reserved int            // open connections on the reserve
	perAddr  map[string]int // open connections per client key
	idle     map[*Conn]time.Time

	accepted, refused, evicted *metrics.Counter
}

// NewListener wraps ln; set may be nil.
func NewListener(ln net.Listener, cfg Config, set *metrics.Set) *Listener {
	if set == nil {
		set = metrics.NewSet()
	}
	if cfg.Reserve >= cfg.Max {
		cfg.Reserve = cfg.Max / 2
	}
	if cfg.ReserveHeaderTimeout <= 0 {
		cfg.ReserveHeaderTimeout = 2 * time.Second
	}
	if cfg.MinIdle <= 0 {
		cfg.MinIdle = 5 * time.Second
	}
	l := &Listener{Listener: ln, cfg: cfg, perAddr: map[string]int{}, idle: map[*Conn]time.Time{},
		accepted: set.NewCounter(`watchpost_http_connections_total{result="accepted"}`),
		refused:  set.NewCounter(`watchpost_http_connections_total{result="refused"}`),
		evicted:  set.NewCounter(`watchpost_http_connections_total{result="idle_closed"}`),
	}
	set.NewGauge("watchpost_http_connections_open", func() float64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		return float64(l.general + l.reserved)
	})
	return l
}

// Accept returns the next connection within the bounds. One over them
// is closed at once, unless an idle keep-alive connection (of the same
// client, for PerAddress) can be closed to make room.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		gc, ok := l.admit(c, key)
		if !ok {
			l.refused.Inc()
			c.Close()
			continue
		}
		l.accepted.Inc()
		return gc, nil
	}
}

func (l *Listener) admit(c net.Conn, key string) (*Conn, bool) {
	l.mu.Lock()
	var victims []*Conn
	defer func() {
		l.mu.Unlock()
		for _, v := range victims {
			l.evicted.Inc()
			v.Conn.Close()
		}
	}()
	evict := func(key string) bool {
		v := l.oldestIdleLocked(key)
		if v == nil {
			return false
		}
		l.releaseLocked(v)
		victims = append(victims, v)
		return true
	}
	if l.cfg.PerAddress > 0 && l.perAddr[key] >= l.cfg.PerAddress && !evict(key) {
		return nil, false
	}
	if l.general >= l.cfg.Max-l.cfg.Reserve {
		evict("")
	}
	gc := &Conn{Conn: c, l: l, key: key, accepted: time.Now()}
	switch {
	case l.general < l.cfg.Max-l.cfg.Reserve:
		l.general++
	case l.reserved < l.cfg.Reserve:
		gc.reserve = true
		l.reserved++
	default:
		return nil, false
	}
	l.perAddr[key]++
	return gc, true
}

// oldestIdleLocked is the connection idle longest, at least MinIdle, of
// key ("" any).
func (l *Listener) oldestIdleLocked(key string) *Conn {
	var oldest *Conn
	var since time.Time
	cut := time.Now().Add(-l.cfg.MinIdle)
	for c, t := range l.idle {
		if key != "" && c.key != key || t.After(cut) {
			continue
		}
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	return oldest
}

// releaseLocked takes c out of the counts, once.
func (l *Listener) releaseLocked(c *Conn) {
	if c.released {
		return
	}
	c.released = true
	delete(l.idle, c)
	if c.reserve {
		l.reserved--
	} else {
		l.general--
	}
	if l.perAddr[c.key]--; l.perAddr[c.key] <= 0 {
		delete(l.perAddr, c.key)
	}
}

// ConnState is the http.Server's ConnState hook: it tells which
// connections are idle between requests, the ones closed to make room.
func (l *Listener) ConnState(nc net.Conn, st http.ConnState) {
	c := unwrap(nc)
	if c == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released {
		return
	}
	switch st {
	case http.StateIdle:
		l.idle[c] = time.Now()
	case http.StateActive:
		delete(l.idle, c)
	case http.StateHijacked, http.StateClosed:
		// A hijacked connection (a websocket) still counts until it is
		// closed; its handler bounds its own life.
		delete(l.idle, c)
	}
}

// ConnContext is the http.Server's ConnContext hook: requests learn
// whether their connection is on the reserve.
func (l *Listener) ConnContext(ctx context.Context, nc net.Conn) context.Context {
	if c := unwrap(nc); c != nil {
		return context.WithValue(ctx, connKey{}, c)
	}
	return ctx
}

type connKey struct{}

func unwrap(nc net.Conn) *Conn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, _ := nc.(*Conn)
	return c
}

// Conn is a connection the Listener admitted.
type Conn struct {
	net.Conn
	l        *Listener
	key      string
	accepted time.Time
	reserve  bool
	admitted bool // a reserve connection's request was let through
	released bool // guarded by l.mu
	once     sync.Once
}

// Close closes the connection and gives its place back.
func (c *Conn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.releaseLocked(c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// SetReadDeadline keeps a reserve connection's header read short until
// its request was let through: the reserve must not be held by slow
// headers.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.l.mu.Lock()
	probation := c.reserve && !c.admitted
	c.l.mu.Unlock()
	if probation {
		limit := c.accepted.Add(c.l.cfg.ReserveHeaderTimeout)
		if t.IsZero() || t.After(limit) {
			t = limit
		}
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline applies SetReadDeadline's rule to the read side.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// clientKey is the per-address key: the address, or an IPv6 address's
// /64 (one host usually has the whole prefix).
func clientKey(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		return host
	}
	ip := ta.AddrPort().Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// Rule is the deadlines of the requests whose path starts with Prefix:
// Read bounds reading the body (from when the handler starts), Write
// writing the answer. 0 clears the deadline (a stream or a websocket,
// whose handler sets its own).
type Rule struct {
	Prefix      string
	Read, Write time.Duration
}

// Guard gives each request the deadlines of the first rule whose prefix
// its path has (def when none), and answers 503 to a non-priority
// request on a reserve connection.
func Guard(next http.Handler, rules []Rule, def Rule, priority func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(*Conn); ok && c.reserve {
			if priority == nil || !priority(r) {
				w.Header().Set("Retry-After", "5")
				w.Header().Set("Connection", "close")
				http.Error(w, "the loghost has too many connections; retry", http.StatusServiceUnavailable)
				return
			}
			c.l.mu.Lock()
			c.admitted = true
			c.l.mu.Unlock()
		}
		rule := def
		for _, ru := range rules {
			if len(r.URL.Path) >= len(ru.Prefix) && r.URL.Path[:len(ru.Prefix)] == ru.Prefix {
				rule = ru
				break
			}
		}
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			// A websocket lives as long as its handler says, with its own
			// read and write deadlines (pings, each message).
			rule.Read, rule.Write = 0, 0
		}
		rc := http.NewResponseController(w)
		now := time.Now()
		// The read deadline is the body's only: once passed, net/http's
		// background read of the connection fails at it and cancels the
		// request's context, however long the answer may take (a search,
		// a long poll). So a request without a body gets none, and a
		// body read to its end clears it.
		if r.Body == nil || r.Body == http.NoBody {
			rule.Read = 0
		}
		setDeadline(rc.SetReadDeadline, now, rule.Read)
		setDeadline(rc.SetWriteDeadline, now, rule.Write)
		if rule.Read > 0 {
			r.Body = &bodyDeadline{ReadCloser: r.Body, clear: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		}
		next.ServeHTTP(w, r)
	})
}

// bodyDeadline clears the read deadline when the body has been read to
// its end.
type bodyDeadline struct {
	io.ReadCloser
	clear func()
	done  bool
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.clear()
	}
	return n, err
}

// setDeadline sets a deadline d from now, or clears it (0). A writer
// that cannot have one (a test recorder) goes without.
func setDeadline(set func(time.Time) error, now time.Time, d time.Duration) {
	t := time.Time{}
	if d > 0 {
		t = now.Add(d)
	}
	_ = set(t)
}

// RaiseFileLimit raises the soft limit of open files to the hard one
// (the Go runtime does so on Linux too; this says what it is) and
// returns it.
func RaiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("open-file limit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, fmt.Errorf("raise open-file limit: %w", err)
		}
	}
	return rl.Cur, nil
}

// DefaultMax is the connections a listener takes when not configured:
// 2048, and never more than the open files left when the others have
// theirs (the store, logs followed, syslog's connections: taken).
func DefaultMax(nofile uint64, taken int) int {
	n := 2048
	if room := int(min(nofile, 1<<30)) - taken; room < n {
		n = max(room, 16)
	}
	return n
}
