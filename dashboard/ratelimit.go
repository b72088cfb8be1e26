package dashboard

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// backoff counts failed logins per key (a client address, or an address
// and a user name) and makes every failure beyond the first few wait
// longer for the next attempt: free failures, then base, 2×base, 4×base
// ... up to max. A key is forgotten after forget without an attempt.
// An attempt is counted before the password is checked, so concurrent
// guesses cannot slip past while bcrypt runs; a success gives it back.
//
// Nothing here is kept per user name alone: that would let anyone lock
// an admin out by failing in their name. An address that has not failed
// is never refused.
type backoff struct {
	mu                sync.Mutex
	free              int
	base, max, forget time.Duration
	cap               int // keys kept at most: memory stays bounded under a flood
	m                 map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

func newBackoff(free int, base, maxWait, forget time.Duration, capacity int) *backoff {
	return &backoff{free: free, base: base, max: maxWait, forget: forget, cap: capacity, m: map[string]*failures{}}
}

// delay is how long after the n-th failure the next attempt must wait.
func (b *backoff) delay(n int) time.Duration {
	if n < b.free {
		return 0
	}
	d := b.base
	for i := b.free; i < n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

func (b *backoff) expired(e *failures, now time.Time) bool {
	return !now.Before(e.last.Add(max(b.forget, b.delay(e.n))))
}

// take counts an attempt for key, or returns how long until one is
// allowed.
func (b *backoff) take(key string, now time.Time) (retryAfter time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.m[key]
	if e != nil && b.expired(e, now) {
		e = nil
	}
	if e == nil {
		if _, exists := b.m[key]; !exists && len(b.m) >= b.cap {
			b.makeRoom(now)
		}
		e = &failures{}
		b.m[key] = e
	}
	if next := e.last.Add(b.delay(e.n)); e.n > 0 && now.Before(next) {
		return next.Sub(now), false
	}
	e.n++
	e.last = now
	return 0, true
}

// failed returns the failures counted for key (0 when none or forgotten).
func (b *backoff) failed(key string, now time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.m[key]; e != nil && !b.expired(e, now) {
		return e.n
	}
	return 0
}

// refund returns an attempt that succeeded.
func (b *backoff) refund(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.m[key]; e != nil && e.n > 0 {
		e.n--
	}
}

// reset forgets key.
func (b *backoff) reset(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
}

// makeRoom drops forgotten keys, and if that is not enough, the one
// quiet longest. It is O(keys) but runs only when the table is full,
// which takes a flood of failures from many addresses.
func (b *backoff) makeRoom(now time.Time) {
	var oldest string
	var oldestLast time.Time
	for k, e := range b.m {
		if b.expired(e, now) {
			delete(b.m, k)
			continue
		}
		if oldest == "" || e.last.Before(oldestLast) {
			oldest, oldestLast = k, e.last
		}
	}
	if len(b.m) >= b.cap && oldest != "" {
		delete(b.m, oldest)
	}
}

func (b *backoff) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// clientKey is the rate-limit key of the request's client: its address,
// or for IPv6 its /64, since one host usually has the whole prefix.
// X-Forwarded-For is not trusted: anyone can send it.
func clientKey(r *http.Request) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "?" + truncate(host, 64)
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// clientAddr is the request's client address as it is, for log lines
// (fail2ban bans what they name).
func clientAddr(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return truncate(r.RemoteAddr, 64)
}

func userKey(name string) string {
	return strings.ToLower(truncate(name, maxUserName))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
