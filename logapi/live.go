package logapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchpost/watchpost/store"
)

// Limits of the live tail.
const (
	// LiveBuffer is how many lines one browser's tail holds between two
	// batches; beyond it the oldest are skipped and counted.
	LiveBuffer = 2000
	// LiveBatch is how often lines are sent: often enough to look live,
	// seldom enough that 5,000 lines/s are a few messages a second.
	LiveBatch = 250 * time.Millisecond
	// LivePing is the keep-alive interval: proxies close streams that are
	// silent for 30-60 s.
	LivePing = 15 * time.Second
	// LiveCatchUp is how many stored records a reconnecting tail reads
	// back at most; further back it says how many it left out.
	LiveCatchUp = 100000
	// DefaultMaxTails is how many live tails the loghost serves at once,
	// and MaxTailsPerUser how many one user may have.
	DefaultMaxTails = 32
	MaxTailsPerUser = 8
)

// tails counts the open live tails.
type tails struct {
	mu     sync.Mutex
	total  int
	byUser map[string]int
}

func (h *Handler) openTail(who string) (func(), string) {
	max := h.MaxTails
	if max <= 0 {
		max = DefaultMaxTails
	}
	h.tails.mu.Lock()
	defer h.tails.mu.Unlock()
	if h.tails.byUser == nil {
		h.tails.byUser = map[string]int{}
	}
	switch {
	case h.tails.total >= max:
		return nil, fmt.Sprintf("the loghost already serves %d live tails, its limit: close one (another tab or window) and try again", max)
	case h.tails.byUser[who] >= MaxTailsPerUser:
		return nil, fmt.Sprintf("you already have %d live tails open, the limit per user: close one (another tab or window) and try again", MaxTailsPerUser)
	}
	h.tails.total++
	h.tails.byUser[who]++
	return func() {
		h.tails.mu.Lock()
		h.tails.total--
		if h.tails.byUser[who]--; h.tails.byUser[who] <= 0 {
			delete(h.tails.byUser, who)
		}
		h.tails.mu.Unlock()
	}, ""
}

// LiveMessage is what the batched tail sends: Type "lines" with the
// lines committed since the last message in ingest order, Skipped
// counting matching lines the client did not get (it fell behind, or
// records were left out when catching up after a reconnect), and LastSeq
// the stream position to resume from; Type "ping" as a keep-alive.
type LiveMessage struct {
	Type    string  `json:"type"`
	Lines   []Event `json:"lines,omitempty"`
	Skipped int64   `json:"skipped,omitempty"`
	LastSeq int64   `json:"last_seq"`
	// Note explains a skip that is not the client's doing.
	Note string `json:"note,omitempty"`
}

// Live serves GET /api/v1/logs/tail?batch=1 (Tail hands it over): the
// browser's live tail. Matching lines go out every LiveBatch in ingest
// order (so a backlog a collector flushes after an outage shows), at
// most LiveBuffer between two batches; a ping every LivePing keeps
// proxies from closing the stream; since_seq=N resumes after seq N (the
// last_seq of the last message received); n=N first sends the newest N
// matches.
func (h *Handler) Live(w http.ResponseWriter, r *http.Request) {
	req, err := h.ParseRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	v := r.URL.Query()
	backlog, err := intParam(v.Get("n"), 0, 0, MaxPage, "n")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var since int64 = -1
	if s := v.Get("since_seq"); s != "" {
		if since, err = strconv.ParseInt(s, 10, 64); err != nil || since < 0 {
			writeError(w, http.StatusBadRequest, "since_seq must be a seq")
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
	sub := h.Store.Subscribe(LiveBuffer, func(rec *store.Record) bool { return rec.Kind == store.KindLog && q.Match(rec) })
	defer sub.Close()
	// Everything up to here is stored; later commits come from sub.
	through := h.Store.LastSeq()
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		defer cancel()
		conn.SetReadLimit(4096)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	send := func(m LiveMessage) error {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return conn.WriteJSON(m)
	}
	last := through
	// Catch up: after a reconnect, what was committed while away; on a
	// first connection, the newest n matches.
	var first []Event
	var skipped int64
	var note string
	switch {
	case since >= 0 && since < through:
		from := since
		if through-since > LiveCatchUp {
			from = through - LiveCatchUp
			note = fmt.Sprintf("%d lines arrived while disconnected; the newest %d were searched", through-since, LiveCatchUp)
		}
		for from < through && ctx.Err() == nil {
			recs, err := h.Store.ReadAfter(ctx, from, 5000)
			if err != nil || len(recs) == 0 {
				break
			}
			for i := range recs {
				if recs[i].Seq > through {
					break
				}
				if recs[i].Kind == store.KindLog && q.Match(&recs[i]) {
					first = append(first, FromRecord(&recs[i]))
				}
			}
			from = recs[len(recs)-1].Seq
		}
		if len(first) > LiveBuffer {
			skipped = int64(len(first) - LiveBuffer)
			first = first[len(first)-LiveBuffer:]
		}
	case since < 0 && backlog > 0:
		opts := req.Opts
		opts.Limit, opts.Context = backlog, 0
		hits, _, err := h.searcher().Search(ctx, opts)
		if err != nil {
			return
		}
		// In ingest order, as the tail goes on.
		slices.SortFunc(hits, func(a, b store.Hit) int { return int(a.Seq - b.Seq) })
		for i := range hits {
			if hits[i].Seq <= through {
				first = append(first, FromRecord(&hits[i].Record))
			}
		}
	}
	if send(LiveMessage{Type: "lines", Lines: first, Skipped: skipped, LastSeq: last, Note: note}) != nil {
		return
	}
	settled := through
	batch := time.NewTicker(LiveBatch)
	defer batch.Stop()
	every := h.Ping
	if every <= 0 {
		every = LivePing
	}
	ping := time.NewTicker(every)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		case <-ping.C:
			// A message, not only a control frame: the page sees it and
			// knows the stream is alive; proxies see traffic.
			if send(LiveMessage{Type: "ping", LastSeq: last}) != nil {
				return
			}
		case <-batch.C:
			// Every record up to the seq read a tick ago has been handed
			// to sub by now (the writer publishes right after it counts a
			// commit), so a client resuming from there misses none.
			last = max(last, settled)
			settled = h.Store.LastSeq()
			recs, missed := sub.Take()
			if len(recs) == 0 && missed == 0 {
				continue
			}
			slices.SortFunc(recs, func(a, b store.Record) int { return int(a.Seq - b.Seq) })
			m := LiveMessage{Type: "lines", Skipped: missed, Lines: make([]Event, 0, len(recs))}
			for i := range recs {
				if recs[i].Seq <= through {
					continue // sent by the catch-up
				}
				m.Lines = append(m.Lines, FromRecord(&recs[i]))
				last = max(last, recs[i].Seq)
			}
			m.LastSeq = last
			if send(m) != nil {
				return
			}
			ping.Reset(every)
		}
	}
}
