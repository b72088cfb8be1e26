// Package syslogd is the loghost's syslog listener: RFC 3164/5424 messages
// over UDP, and over TCP (optionally TLS) with RFC 6587 framing detected per
// frame. It hands received messages in small batches to a Handler; parsing
// and storing are the handler's business.
package syslogd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/logparse"
)

// Config tunes the listener; zero values take the defaults.
type Config struct {
	// MaxMessageSize bounds one message; longer frames are truncated and
	// counted. Default 64 KiB.
	MaxMessageSize int
	// IdleTimeout closes a TCP connection that sent nothing for this long.
	// Default 10 minutes (rsyslog keeps idle connections open).
	IdleTimeout time.Duration
	// BatchSize and BatchDelay bound a handler call: at most BatchSize
	// messages, and the first message waits at most BatchDelay for company.
	// Defaults 500 and 5 ms.
	BatchSize  int
	BatchDelay time.Duration
	// MaxConnections bounds concurrent TCP connections. Default 1024.
	// MaxPerPeer bounds those of one sender address (an IPv6 sender's
	// /64). Default 64. A new connection is never refused for either: the
	// longest-idle connection (the peer's own, for MaxPerPeer) is closed
	// to make room, gracefully (its sender sees the close and reconnects,
	// and what it had already sent is read first), and Pressure is told.
	MaxConnections int
	MaxPerPeer     int
	// Pressure, when set, is called (from the accept loop, so it must not
	// block) each time a connection is closed to make room.
	Pressure func(Pressure)
	// DrainTimeout is how long handler calls may still run after Serve's
	// context is cancelled before their context is cancelled too.
	// Default 5 s.
	DrainTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 64 << 10
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.BatchDelay <= 0 {
		c.BatchDelay = 5 * time.Millisecond
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 1024
	}
	if c.MaxPerPeer <= 0 {
		c.MaxPerPeer = 64
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Second
	}
	return c
}

// Message is one received syslog message.
type Message struct {
	Raw       []byte // without framing, trailing LF, CR or NUL; owned by the receiver
	Remote    net.Addr
	Received  time.Time
	Transport string // "udp", "tcp" or "tls"
}

// Handler receives batches of messages in arrival order. It is never called
// concurrently. The slice is reused after the call returns; the Raw bytes
// are not. ctx stays valid for DrainTimeout after Serve's context ends, so
// a handler can store what was received before shutdown.
type Handler func(ctx context.Context, msgs []Message)

type listener struct {
	ln  net.Listener
	tls bool
}

// Pressure says a connection was closed to make room for a new one.
type Pressure struct {
	// Reason is "total" (MaxConnections reached) or "peer" (the new
	// connection's sender had MaxPerPeer).
	Reason string
	New    net.Addr      // the sender of the new connection
	Closed net.Addr      // the sender whose connection was closed
	Idle   time.Duration // how long the closed connection had been idle
	Open   int           // connections open, the closed one included
}

// connInfo is what the accept loop knows of an open connection.
type connInfo struct {
	peer string // address, or an IPv6 address's /64
	// last is when the connection last sent something (Unix ns).
	last    atomic.Int64
	evicted atomic.Bool
}

// Server receives syslog messages on any number of UDP and TCP listeners.
type Server struct {
	cfg  Config
	h    Handler
	log  *slog.Logger
	now  func() time.Time
	msgs chan Message

	udp     []*net.UDPConn
	tcp     []listener
	serving atomic.Bool

	mu      sync.Mutex
	conns   map[net.Conn]*connInfo
	peers   map[string]int // open connections per peer, evicted ones not counted
	open    int            // open connections, evicted ones not counted
	closing bool

	m         map[string]*transportMetrics
	connsOpen *metrics.Gauge
	rejected  *metrics.Counter
	evicted   *metrics.Counter
	tlsErrors *metrics.Counter
	batches   *metrics.Counter
}

type transportMetrics struct {
	frames, bytes, framingErrors, truncated, readErrors *metrics.Counter
}

// New returns a server; add listeners with ListenUDP and ListenTCP, then
// call Serve. A nil set, logger or now get a private set, a discarding
// logger and time.Now.
func New(cfg Config, h Handler, set *metrics.Set, logger *slog.Logger, now func() time.Time) *Server {
	cfg = cfg.withDefaults()
	if set == nil {
		set = metrics.NewSet()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	s := &Server{
		cfg: cfg, h: h, log: logger, now: now,
		msgs:      make(chan Message, 4*cfg.BatchSize),
		conns:     map[net.Conn]*connInfo{},
		peers:     map[string]int{},
		m:         map[string]*transportMetrics{},
		connsOpen: set.GetOrCreateGauge("watchpost_syslog_connections_open", nil),
		rejected:  set.GetOrCreateCounter("watchpost_syslog_connections_rejected_total"),
		evicted:   set.GetOrCreateCounter("watchpost_syslog_connections_evicted_total"),
		tlsErrors: set.GetOrCreateCounter("watchpost_syslog_tls_handshake_errors_total"),
		batches:   set.GetOrCreateCounter("watchpost_syslog_batches_total"),
	}
	for _, tr := range []string{"udp", "tcp", "tls"} {
		l := `{transport="` + tr + `"}`
		s.m[tr] = &transportMetrics{
			frames:        set.GetOrCreateCounter("watchpost_syslog_frames_total" + l),
			bytes:         set.GetOrCreateCounter("watchpost_syslog_bytes_total" + l),
			framingErrors: set.GetOrCreateCounter("watchpost_syslog_framing_errors_total" + l),
			truncated:     set.GetOrCreateCounter("watchpost_syslog_truncated_total" + l),
			readErrors:    set.GetOrCreateCounter("watchpost_syslog_read_errors_total" + l),
		}
	}
	return s
}

var errServing = errors.New("syslog server is already serving")

// ListenUDP binds a UDP socket now, so that port-0 addresses can be read
// back with UDPAddr before Serve.
func (s *Server) ListenUDP(addr string) error {
	if s.serving.Load() {
		return errServing
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return fmt.Errorf("syslog udp %s: %w", addr, err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("syslog udp: %w", err)
	}
	// Bursts outrun one reader; a larger kernel buffer loses fewer
	// datagrams. The kernel may cap it, which is fine.
	_ = c.SetReadBuffer(4 << 20)
	s.udp = append(s.udp, c)
	return nil
}

// ListenTCP binds a TCP listener now; with a non-nil tlsCfg it speaks
// syslog over TLS (RFC 5425).
func (s *Server) ListenTCP(addr string, tlsCfg *tls.Config) error {
	if s.serving.Load() {
		return errServing
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("syslog tcp: %w", err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	s.tcp = append(s.tcp, listener{ln: ln, tls: tlsCfg != nil})
	return nil
}

// UDPAddr returns the address of the first UDP listener, or nil.
func (s *Server) UDPAddr() net.Addr {
	if len(s.udp) == 0 {
		return nil
	}
	return s.udp[0].LocalAddr()
}

// TCPAddr returns the address of the first plain TCP listener, or nil.
func (s *Server) TCPAddr() net.Addr { return s.tcpAddr(false) }

// TLSAddr returns the address of the first TLS listener, or nil.
func (s *Server) TLSAddr() net.Addr { return s.tcpAddr(true) }

func (s *Server) tcpAddr(tls bool) net.Addr {
	for _, l := range s.tcp {
		if l.tls == tls {
			return l.ln.Addr()
		}
	}
	return nil
}

// Close closes the listeners of a server whose Serve was never called.
func (s *Server) Close() error {
	var errs []error
	for _, c := range s.udp {
		errs = append(errs, c.Close())
	}
	for _, l := range s.tcp {
		errs = append(errs, l.ln.Close())
	}
	return errors.Join(errs...)
}

// Serve receives until ctx is cancelled, then closes listeners and
// connections, hands the messages already received to the handler and
// returns when the last handler call has finished.
func (s *Server) Serve(ctx context.Context) error {
	if !s.serving.CompareAndSwap(false, true) {
		return errServing
	}
	if len(s.udp) == 0 && len(s.tcp) == 0 {
		return errors.New("syslog: no listeners")
	}
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	batchDone := make(chan struct{})
	go func() {
		defer close(batchDone)
		s.batch(hctx)
	}()

	var readers sync.WaitGroup
	for _, c := range s.udp {
		readers.Go(func() { s.readUDP(c) })
	}
	for _, l := range s.tcp {
		readers.Go(func() { s.accept(ctx, l, &readers) })
	}
	<-ctx.Done()
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.Close()
	readers.Wait()
	close(s.msgs)
	stop := time.AfterFunc(s.cfg.DrainTimeout, hcancel)
	<-batchDone
	stop.Stop()
	return nil
}

// batch collects messages into handler calls.
func (s *Server) batch(ctx context.Context) {
	buf := make([]Message, 0, s.cfg.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var due <-chan time.Time
	flush := func() {
		if len(buf) > 0 {
			s.batches.Inc()
			s.h(ctx, buf)
			clear(buf)
			buf = buf[:0]
		}
		timer.Stop()
		due = nil
	}
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				flush()
				return
			}
			buf = append(buf, m)
			if len(buf) >= s.cfg.BatchSize {
				flush()
			} else if len(buf) == 1 {
				timer.Reset(s.cfg.BatchDelay)
				due = timer.C
			}
		case <-due:
			flush()
		}
	}
}

func (s *Server) readUDP(c *net.UDPConn) {
	tm := s.m["udp"]
	// One byte more than allowed tells a too-long datagram from one that
	// is exactly the maximum.
	buf := make([]byte, min(s.cfg.MaxMessageSize+1, 65536))
	var a arena
	for {
		n, ap, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			tm.readErrors.Inc()
			s.log.Warn("udp read", "err", err)
			continue
		}
		tm.bytes.Add(n)
		frame := trimTail(buf[:n])
		if len(frame) > s.cfg.MaxMessageSize {
			frame = frame[:s.cfg.MaxMessageSize]
			tm.truncated.Inc()
		}
		if len(frame) == 0 {
			continue
		}
		tm.frames.Inc()
		s.msgs <- Message{Raw: a.copy(frame), Remote: net.UDPAddrFromAddrPort(ap), Received: s.now(), Transport: "udp"}
	}
}

func (s *Server) accept(ctx context.Context, l listener, readers *sync.WaitGroup) {
	backoff := 5 * time.Millisecond
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, do not spin.
			s.log.Warn("tcp accept", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		info := &connInfo{peer: peerKey(c.RemoteAddr())}
		info.last.Store(time.Now().UnixNano())
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			s.rejected.Inc()
			c.Close()
			continue
		}
		// Make room rather than refuse: a sender whose new connection is
		// closed at once loses what it sends on it (logger -T exits 0), an
		// idle connection held open loses nothing.
		var ev []Pressure
		if s.peers[info.peer] >= s.cfg.MaxPerPeer {
			if p, ok := s.evictLocked(info.peer, c.RemoteAddr()); ok {
				p.Reason = "peer"
				ev = append(ev, p)
			}
		}
		if s.open >= s.cfg.MaxConnections {
			if p, ok := s.evictLocked("", c.RemoteAddr()); ok {
				p.Reason = "total"
				ev = append(ev, p)
			}
		}
		s.conns[c] = info
		s.peers[info.peer]++
		s.open++
		s.mu.Unlock()
		for _, p := range ev {
			s.evicted.Inc()
			if s.cfg.Pressure != nil {
				s.cfg.Pressure(p)
			}
		}
		readers.Go(func() { s.serveConn(c, l.tls, info) })
	}
}

// evictLocked closes the longest-idle connection (of peer, or of anyone
// when peer is ""), gracefully: it stops writing (FIN, or TLS
// close_notify) and reads what the sender still sends for a few seconds,
// so nothing already sent is lost. Called with s.mu held.
func (s *Server) evictLocked(peer string, newAddr net.Addr) (Pressure, bool) {
	var victim net.Conn
	var vi *connInfo
	for c, ci := range s.conns {
		if ci.evicted.Load() || (peer != "" && ci.peer != peer) {
			continue
		}
		if vi == nil || ci.last.Load() < vi.last.Load() {
			victim, vi = c, ci
		}
	}
	if vi == nil {
		return Pressure{}, false
	}
	vi.evicted.Store(true)
	s.peers[vi.peer]--
	s.open--
	p := Pressure{New: newAddr, Closed: victim.RemoteAddr(), Idle: time.Since(time.Unix(0, vi.last.Load())), Open: s.open + 1}
	if cw, ok := victim.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = victim.SetReadDeadline(time.Now().Add(evictDrain))
	return p, true
}

// evictDrain is how long an evicted connection is still read from.
const evictDrain = 3 * time.Second

// peerKey is the per-peer limit's key: the address, or an IPv6
// address's /64 (one host usually has the whole prefix).
func peerKey(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.AddrPort().Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func (s *Server) serveConn(c net.Conn, isTLS bool, info *connInfo) {
	s.connsOpen.Inc()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		if !info.evicted.Load() {
			s.peers[info.peer]--
			s.open--
		}
		if s.peers[info.peer] <= 0 {
			delete(s.peers, info.peer)
		}
		s.mu.Unlock()
		s.connsOpen.Dec()
	}()
	transport := "tcp"
	if isTLS {
		transport = "tls"
		tc := c.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(s.cfg.IdleTimeout))
		if err := tc.Handshake(); err != nil {
			s.tlsErrors.Inc()
			s.log.Info("tls handshake", "remote", c.RemoteAddr(), "err", err)
			return
		}
	}
	tm := s.m[transport]
	remote := c.RemoteAddr()
	fr := NewFrameReader(idleReader{c, s.cfg.IdleTimeout, tm, info}, s.cfg.MaxMessageSize)
	var a arena
	var bad int
	for {
		frame, st, err := fr.Next()
		if len(frame) > 0 {
			tm.frames.Inc()
			if st&Truncated != 0 {
				tm.truncated.Inc()
			}
			if st&(BadPrefix|Unterminated) != 0 {
				tm.framingErrors.Inc()
				bad++
			}
			s.msgs <- Message{Raw: a.copy(frame), Remote: remote, Received: s.now(), Transport: transport}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					s.log.Debug("idle connection closed", "remote", remote)
				} else {
					tm.readErrors.Inc()
					s.log.Info("tcp read", "remote", remote, "err", err)
				}
			}
			if bad > 0 {
				s.log.Info("connection sent badly framed data", "remote", remote, "frames", bad)
			}
			return
		}
	}
}

// idleReader renews the idle deadline before every read (not once the
// connection is evicted: then the eviction's deadline stands), notes the
// time of the last bytes, and counts them.
type idleReader struct {
	c    net.Conn
	idle time.Duration
	tm   *transportMetrics
	info *connInfo
}

func (r idleReader) Read(p []byte) (int, error) {
	// Deadlines are wall-clock by nature; the injected clock is for the
	// timestamps of messages, not for the network stack.
	if !r.info.evicted.Load() {
		if err := r.c.SetReadDeadline(time.Now().Add(r.idle)); err != nil {
			return 0, err
		}
		// Evicted meanwhile: its deadline, not ours.
		if r.info.evicted.Load() {
			_ = r.c.SetReadDeadline(time.Now().Add(evictDrain))
		}
	}
	n, err := r.c.Read(p)
	if n > 0 {
		r.info.last.Store(time.Now().UnixNano())
	}
	r.tm.bytes.Add(n)
	return n, err
}

// arena copies small messages into shared chunks: one allocation per
// chunk instead of one per message.
type arena struct{ buf []byte }

const arenaChunk = 32 << 10

func (a *arena) copy(b []byte) []byte {
	if len(b) > arenaChunk/8 {
		return append([]byte(nil), b...)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, arenaChunk)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

func trimTail(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

// HostOf returns the host a message is stored under: the HOSTNAME the
// sender put in the message, else the sender's IP address.
func HostOf(ev logparse.Event, remote net.Addr) string {
	if ev.Host != "" && ev.Host != "-" {
		return ev.Host
	}
	var ap netip.AddrPort
	switch a := remote.(type) {
	case nil:
		return ""
	case *net.UDPAddr:
		ap = a.AddrPort()
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		return host
	}
	return ap.Addr().Unmap().String()
}
