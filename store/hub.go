package store

import "sync"

// hub hands committed records to live followers (grep -f, websockets).
// A follower has a bounded buffer: when it falls behind, its oldest
// records are dropped and counted, and ingestion never waits for it.
type hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

func newHub() *hub { return &hub{subs: map[*Subscription]struct{}{}} }

// Subscription receives records committed after it was made.
type Subscription struct {
	h      *hub
	filter func(*Record) bool
	max    int

	mu      sync.Mutex
	buf     []Record
	missed  int64
	notify  chan struct{}
	dropped func(int)
}

// Subscribe follows records committed from now on that pass filter (nil:
// all), keeping at most max of them buffered.
func (s *Store) Subscribe(max int, filter func(*Record) bool) *Subscription {
	if max <= 0 {
		max = 1000
	}
	sub := &Subscription{h: s.live, filter: filter, max: max, notify: make(chan struct{}, 1),
		dropped: func(n int) { s.m.liveDropped.Add(n) }}
	s.live.mu.Lock()
	s.live.subs[sub] = struct{}{}
	s.live.mu.Unlock()
	return sub
}

// Close stops the subscription.
func (sub *Subscription) Close() {
	sub.h.mu.Lock()
	delete(sub.h.subs, sub)
	sub.h.mu.Unlock()
}

// C is signalled when records are waiting.
func (sub *Subscription) C() <-chan struct{} { return sub.notify }

// Take returns the waiting records and how many were dropped since the
// last call because the buffer was full.
func (sub *Subscription) Take() ([]Record, int64) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	out, missed := sub.buf, sub.missed
	sub.buf, sub.missed = nil, 0
	return out, missed
}

// publish hands a commit's blocks to the followers.
func (h *hub) publish(blocks [][]Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.mu.Lock()
		n := 0
		for _, recs := range blocks {
			for i := range recs {
				if sub.filter != nil && !sub.filter(&recs[i]) {
					continue
				}
				sub.buf = append(sub.buf, recs[i])
				n++
			}
		}
		if over := len(sub.buf) - sub.max; over > 0 {
			sub.buf = append(sub.buf[:0:0], sub.buf[over:]...)
			sub.missed += int64(over)
			sub.dropped(over)
		}
		sub.mu.Unlock()
		if n > 0 {
			select {
			case sub.notify <- struct{}{}:
			default:
			}
		}
	}
}
