package dashboard

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"
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
	cache  *StatusCache
	every  time.Duration
	max    int
	logger *slog.Logger

	mu      sync.Mutex
	current []byte // the last message
	subs    map[chan []byte]struct{}

	clients *metrics.Gauge
}

// NewStatusHub returns a hub; Run renders, ServeHTTP serves.
func NewStatusHub(cache *StatusCache, every time.Duration, maxClients int, set *metrics.Set, logger *slog.Logger) *StatusHub {
	if logger == nil {
		logger = slog.Default()
	}
	if set == nil {
		set = metrics.NewSet()
	}
	h := &StatusHub{cache: cache, every: every, max: maxClients, logger: logger, subs: map[chan []byte]struct{}{}}
	h.clients = set.NewGauge("watchpost_status_live_clients", func() float64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		return float64(len(h.subs))
	})
	return h
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
	h.mu.Lock()
	if len(h.subs) >= h.max {
		h.mu.Unlock()
		WriteError(w, http.StatusServiceUnavailable, "too many live status clients; the page still works without")
		return
	}
	h.subs[ch] = struct{}{}
	current := h.current
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
	conn, err := statusUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetReadLimit(512)
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
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-done:
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
