package console

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/watchpost/watchpost/dashboard"
)

// hub keeps the checks list live in the browsers that show it: one
// render every few seconds while anyone watches, sent only when it
// changed, as the public status page's hub does.
type hub struct {
	c     *Console
	every time.Duration
	max   int

	mu      sync.Mutex
	current []byte
	subs    map[chan []byte]struct{}
}

func newHub(c *Console, every time.Duration, max int) *hub {
	return &hub{c: c, every: every, max: max, subs: map[chan []byte]struct{}{}}
}

// liveMessage is what the checks page swaps in.
type liveMessage struct {
	Title  string `json:"title"`
	Counts counts `json:"counts"`
	// HTML is the list's rows, rendered and escaped by the server; the
	// page's filter hides the ones it does not show.
	HTML string `json:"html"`
}

func (h *hub) render(ctx context.Context) ([]byte, error) {
	rows, n, err := h.c.rows(ctx)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	d := checksData{Counts: n, Filter: "all", Groups: groupRows(rows, "all"), Durations: durations}
	if err := h.c.pages["checks"].ExecuteTemplate(&buf, "checklist", d); err != nil {
		return nil, err
	}
	return json.Marshal(liveMessage{Title: "Checks: " + n.String() + " · Watchpost admin", Counts: n, HTML: buf.String()})
}

func (h *hub) run(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		h.mu.Lock()
		watched := len(h.subs) > 0
		h.mu.Unlock()
		if watched {
			msg, err := h.render(ctx)
			if err != nil {
				if ctx.Err() == nil {
					h.c.d.Logger.Warn("checks live render", "err", err)
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
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var upgrader = websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 16 << 10}

// ServeHTTP is GET /admin/checks/live (signed-in admins; the upgrader
// refuses other origins, and the session cookie is SameSite=Strict).
func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ch := make(chan []byte, 1)
	h.mu.Lock()
	if len(h.subs) >= h.max {
		h.mu.Unlock()
		dashboard.WriteError(w, http.StatusServiceUnavailable, "too many live clients; the page still works when reloaded")
		return
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
	conn, err := upgrader.Upgrade(w, r, nil)
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
	// A new client gets the current list at once.
	if msg, err := h.render(r.Context()); err == nil && !send(msg) {
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
