package dashboard

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gorilla/websocket"
)

// statusCSP lets the status page load its own scripts from the binary:
// status.js, which swaps in server-rendered HTML, and the vendored
// dygraphs it loads for the charts (with its legend plugin left out, the
// one part that writes style attributes). Styles stay 'self': dygraphs
// positions its canvases through element.style, which CSP does not
// govern. The page works without any of it. Its one form (subscribe by
// email) posts to the page's own origin.
const statusCSP = "default-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; " +
	"style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// StatusHub renders the status page every few seconds and pushes it to
// the browsers watching /api/v1/status/live when it changed. One render
// serves every visitor, however many there are.
type StatusHub struct {
	cache *StatusCache
	every time.Duration
	max   int
	// PerAddress bounds the live clients of one address (an IPv6
	// client's /64); default 16.
	PerAddress int
	logger     *slog.Logger

	mu      sync.Mutex
	current []byte // the last message
	subs    map[chan []byte]*liveSub
	perAddr map[string]int

	clients *metrics.Gauge
	evicted *metrics.Counter
}

// liveSub is one watching browser.
type liveSub struct {
	addr string
	// last is when the browser last showed it is there (connected, or
	// answered a ping), Unix ns.
	last atomic.Int64
	// kick is closed to make the browser's place free for a newer one.
	kick   chan struct{}
	kicked bool // guarded by the hub's mu
}

// livePing is how often a live client is pinged; one that has not
// answered for livePongWait is dropped.
const (
	livePing     = 30 * time.Second
	livePongWait = 2*livePing + 10*time.Second
)

// NewStatusHub returns a hub; Run renders, ServeHTTP serves.
func NewStatusHub(cache *StatusCache, every time.Duration, maxClients int, set *metrics.Set, logger *slog.Logger) *StatusHub {
	if logger == nil {
		logger = slog.Default()
	}
	if set == nil {
		set = metrics.NewSet()
	}
	h := &StatusHub{cache: cache, every: every, max: maxClients, PerAddress: 16, logger: logger,
		subs: map[chan []byte]*liveSub{}, perAddr: map[string]int{}}
	h.clients = set.NewGauge("watchpost_status_live_clients", func() float64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		return float64(len(h.subs))
	})
	h.evicted = set.NewCounter("watchpost_status_live_evicted_total")
	return h
}

// admit takes a place for a new browser from addr. A full hub (or
// address) makes room by dropping its longest-idle browser, the one that
// has not answered a ping for longest, then the oldest: a flood of
// websockets that never answer costs the next visitor nothing.
func (h *StatusHub) admit(ch chan []byte, addr string) *liveSub {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.PerAddress > 0 && h.perAddr[addr] >= h.PerAddress {
		h.kickLocked(addr)
	}
	if len(h.subs) >= h.max {
		h.kickLocked("")
	}
	s := &liveSub{addr: addr, kick: make(chan struct{})}
	s.last.Store(time.Now().UnixNano())
	h.subs[ch] = s
	h.perAddr[addr]++
	return s
}

// kickLocked drops the longest-idle browser (of addr; any when "").
func (h *StatusHub) kickLocked(addr string) {
	var victim chan []byte
	var vs *liveSub
	for ch, s := range h.subs {
		if s.kicked || (addr != "" && s.addr != addr) {
			continue
		}
		if vs == nil || s.last.Load() < vs.last.Load() {
			victim, vs = ch, s
		}
	}
	if vs == nil {
		return
	}
	vs.kicked = true
	close(vs.kick)
	h.dropLocked(victim)
	h.evicted.Inc()
}

func (h *StatusHub) dropLocked(ch chan []byte) {
	s, ok := h.subs[ch]
	if !ok {
		return
	}
	delete(h.subs, ch)
	if h.perAddr[s.addr]--; h.perAddr[s.addr] <= 0 {
		delete(h.perAddr, s.addr)
	}
}

type liveMessage struct {
	// Generated lets the page ignore a message older than itself: a new
	// client first gets the last render, which may predate the page.
	Generated int64  `json:"generated"` // Unix milliseconds
	Title     string `json:"title"`
	Overall   string `json:"overall"`
	HTML      string `json:"html"` // the page's <main>, rendered and escaped by the server
	// Tail is each component's newest samples, in page order, for the
	// charts status.js draws: the newest 5-minute bucket changes with
	// every probe and the one before it was just completed, so a browser
	// that fetched the samples once stays current on a few bytes a
	// message, not the whole /api/v1/status again.
	Tail [][]StatusSample `json:"tail"`
}

// liveTailLen is how many of a component's newest samples a live
// message carries (see liveMessage.Tail).
const liveTailLen = 2

func liveTail(p *StatusPage) [][]StatusSample {
	var tail [][]StatusSample
	for _, g := range p.Groups {
		for _, c := range g.Components {
			s := c.Samples
			if len(s) > liveTailLen {
				s = s[len(s)-liveTailLen:]
			}
			tail = append(tail, s)
		}
	}
	return tail
}

func (h *StatusHub) render(ctx context.Context) ([]byte, error) {
	s, err := h.cache.get(ctx, true)
	if err != nil {
		return nil, err
	}
	return s.live, nil
}

// Run renders until ctx ends, sending each change to every subscriber.
func (h *StatusHub) Run(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		h.mu.Lock()
		watched := len(h.subs) > 0
		h.mu.Unlock()
		// Nobody watching: nothing to build (the page builds on demand).
		if !watched {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			continue
		}
		msg, err := h.render(ctx)
		if err != nil {
			if ctx.Err() == nil {
				h.logger.Warn("status live render", "err", err)
			}
		} else {
			h.mu.Lock()
			if !bytes.Equal(msg, h.current) {
				h.current = msg
				for ch := range h.subs {
					select {
					case ch <- msg:
					default: // a slow browser gets the next one
					}
				}
			}
			h.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var statusUpgrader = websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 16 << 10}

// ServeHTTP is GET /api/v1/status/live.
func (h *StatusHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ch := make(chan []byte, 1)
	sub := h.admit(ch, clientKey(r))
	h.mu.Lock()
	current := h.current
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.dropLocked(ch)
		h.mu.Unlock()
	}()
	conn, err := statusUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetReadLimit(512)
	// A browser answers pings by itself; one that does not is gone (or
	// never was one) and is dropped.
	conn.SetReadDeadline(time.Now().Add(livePongWait))
	conn.SetPongHandler(func(string) error {
		sub.last.Store(time.Now().UnixNano())
		return conn.SetReadDeadline(time.Now().Add(livePongWait))
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	send := func(msg []byte) bool {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return conn.WriteMessage(websocket.TextMessage, msg) == nil
	}
	if current != nil && !send(current) {
		return
	}
	ping := time.NewTicker(livePing)
	defer ping.Stop()
	for {
		select {
		case <-done:
			return
		case <-sub.kick:
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too many live clients"))
			return
		case <-r.Context().Done():
			return
		case msg := <-ch:
			if !send(msg) {
				return
			}
		case <-ping.C:
			conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if conn.WriteMessage(websocket.PingMessage, nil) != nil {
				return
			}
		}
	}
}
