package dashboard

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// limiter counts login attempts per key (client address or user name) in
// a fixed window that starts at the key's first attempt. An attempt is
// counted before the password is checked, so concurrent guesses cannot
// slip past the limit while bcrypt runs; a success gives it back.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	cap    int // keys kept at most: memory stays bounded under a flood
	m      map[string]*attempts
}

type attempts struct {
	start time.Time
	n     int
}

func newLimiter(maxAttempts int, window time.Duration, capacity int) *limiter {
	return &limiter{max: maxAttempts, window: window, cap: capacity, m: map[string]*attempts{}}
}

// take counts an attempt for key, or returns how long until one is
// allowed again.
func (l *limiter) take(key string, now time.Time) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e != nil && !now.Before(e.start.Add(l.window)) {
		e = nil // the window has passed: start over
	}
	if e == nil {
		if _, exists := l.m[key]; !exists && len(l.m) >= l.cap {
			l.makeRoom(now)
		}
		e = &attempts{start: now}
		l.m[key] = e
	}
	if e.n >= l.max {
		return e.start.Add(l.window).Sub(now), false
	}
	e.n++
	return 0, true
}

// refund returns an attempt that succeeded.
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.m[key]; e != nil && e.n > 0 {
		e.n--
	}
}

// reset forgets key.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// makeRoom drops expired keys, and if that is not enough, the oldest one.
// It is O(keys) but runs only when the table is full, which takes a flood
// of failures from many addresses.
func (l *limiter) makeRoom(now time.Time) {
	var oldest string
	var oldestStart time.Time
	for k, e := range l.m {
		if !now.Before(e.start.Add(l.window)) {
			delete(l.m, k)
			continue
		}
		if oldest == "" || e.start.Before(oldestStart) {
			oldest, oldestStart = k, e.start
		}
	}
	if len(l.m) >= l.cap && oldest != "" {
		delete(l.m, oldest)
	}
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
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

func userKey(name string) string {
	return strings.ToLower(truncate(name, maxUserName))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
