package logapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

// Limits of the API.
const (
	DefaultLimit = 1000
	MaxLimit     = 100000
	MaxContext   = 100
	// TailBuffer is how many records a slow follower may fall behind
	// before the oldest are dropped (and counted in a "missed" message).
	TailBuffer = 10000
)

// Handler serves the log search endpoints. Authentication is the
// caller's (the dashboard wraps these in its admin middleware).
type Handler struct {
	Store *store.Store
	// Search answers searches when set (VictoriaLogs as the log store);
	// the live tail always follows Store, by ingest order.
	Search   Searcher
	Location *time.Location
	Now      func() time.Time
	Logger   *slog.Logger
	// Principal names who a request runs as, for the per-user limits
	// (nil: everyone is one user).
	Principal func(*http.Request) string
	// MaxTails bounds the live tails served at once (0: DefaultMaxTails).
	MaxTails int
	// Ping is the live tail's keep-alive interval (0: LivePing).
	Ping time.Duration

	running running
	tails   tails
}

// Searcher is a log store that answers searches, counts and context:
// *store.Store, or VictoriaLogs (package vlogs).
type Searcher interface {
	Search(ctx context.Context, o store.SearchOptions) ([]store.Hit, store.SearchStats, error)
	Summarize(ctx context.Context, o store.SummaryOptions) (store.Summary, error)
	Around(ctx context.Context, seq int64, before, after int) ([]store.Record, int, error)
}

func (h *Handler) searcher() Searcher {
	if h.Search != nil {
		return h.Search
	}
	return h.Store
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

// Request is a parsed search request.
type Request struct {
	Query *query.Query
	Opts  store.SearchOptions
}

// ParseRequest reads q, since, until, limit and context from the URL.
func (h *Handler) ParseRequest(r *http.Request) (Request, error) {
	v := r.URL.Query()
	var req Request
	q, err := query.Parse(v.Get("q"))
	if err != nil {
		return req, err
	}
	req.Query = q
	req.Opts.Query = q
	now := h.Now()
	if req.Opts.Since, err = ParseTime(v.Get("since"), now, h.Location); err != nil {
		return req, err
	}
	if req.Opts.Until, err = ParseTime(v.Get("until"), now, h.Location); err != nil {
		return req, err
	}
	req.Opts.Limit = DefaultLimit
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return req, errorf("limit must be a number from 1 to %d", MaxLimit)
		}
		req.Opts.Limit = n
	}
	switch v.Get("order") {
	case "", "newest":
	case "oldest":
		// The oldest limit matches: clients page forward from the last
		// time they got (grep -server without -n).
		req.Opts.Oldest = true
	default:
		return req, errorf("order must be newest (the newest limit matches) or oldest")
	}
	if s := v.Get("context"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > MaxContext {
			return req, errorf("context must be a number from 0 to %d", MaxContext)
		}
		req.Opts.Context = n
	}
	return req, nil
}

type apiError string

func (e apiError) Error() string { return string(e) }

func errorf(format string, a ...any) error {
	return apiError(fmt.Sprintf(format, a...))
}

// Logs serves GET /api/v1/logs: matching events as NDJSON, oldest first.
func (h *Handler) Logs(w http.ResponseWriter, r *http.Request) {
	req, err := h.ParseRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	hits, st, err := h.searcher().Search(r.Context(), req.Opts)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		var bad interface{ BadRequest() bool }
		if errors.As(err, &bad) && bad.BadRequest() {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		h.logger().Error("log search", "err", err)
		writeError(w, http.StatusInternalServerError, "search failed")
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
	w.Header().Set("X-Watchpost-Blocks", strconv.Itoa(st.Blocks))
	w.Header().Set("X-Watchpost-Scanned", strconv.Itoa(st.Scanned))
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	for i := range hits {
		e := FromRecord(&hits[i].Record)
		if req.Opts.Context > 0 {
			e.Context, e.Group = !hits[i].Match, hits[i].Group
		}
		if err := enc.Encode(e); err != nil {
			return
		}
	}
	bw.Flush()
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 16 << 10,
	// CheckOrigin nil: same-origin only, so a page elsewhere cannot ride
	// an admin's session cookie.
}

// Tail serves GET /api/v1/logs/tail: a websocket that first sends the
// newest n matches (n=, default 0) and then every matching record as it
// is committed, in ingest order, so a backlog a collector flushes after an
// outage still shows.
func (h *Handler) Tail(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("batch") == "1" {
		h.Live(w, r)
		return
	}
	req, err := h.ParseRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	backlog := 0
	if s := r.URL.Query().Get("n"); s != "" {
		if backlog, err = strconv.Atoi(s); err != nil || backlog < 0 || backlog > MaxLimit {
			writeError(w, http.StatusBadRequest, "n must be a number from 0 to 100000")
			return
		}
	}
	who := "?"
	if h.Principal != nil {
		who = h.Principal(r)
	}
	done, refusal := h.openTail(who)
	if done == nil {
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusTooManyRequests, refusal)
		return
	}
	defer done()
	q := req.Query
	// Subscribe before reading the backlog so nothing falls between them.
	sub := h.Store.Subscribe(TailBuffer, func(rec *store.Record) bool { return rec.Kind == store.KindLog && q.Match(rec) })
	defer sub.Close()
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		// Reading notices the client closing; followers send nothing else.
		defer cancel()
		conn.SetReadLimit(4096)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	send := func(v any) error {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return conn.WriteJSON(v)
	}
	sent := map[int64]bool{}
	if backlog > 0 {
		opts := req.Opts
		opts.Limit = backlog
		opts.Context = 0
		hits, _, err := h.searcher().Search(ctx, opts)
		if err != nil {
			return
		}
		for i := range hits {
			sent[hits[i].Seq] = true
			if send(FromRecord(&hits[i].Record)) != nil {
				return
			}
		}
	}
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		case <-ping.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)) != nil {
				return
			}
		case <-sub.C():
			recs, missed := sub.Take()
			if missed > 0 {
				if send(Event{Missed: missed}) != nil {
					return
				}
			}
			for i := range recs {
				if len(sent) > 0 && sent[recs[i].Seq] {
					continue
				}
				if send(FromRecord(&recs[i])) != nil {
					return
				}
			}
			sent = nil
		}
	}
}
