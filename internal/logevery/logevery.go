// Package logevery keeps a log line that an attacker can trigger at
// will (a refused login, a refused token) to one per key and period, so
// the loghost's own log cannot be flooded through it. The line that is
// written says how many were left out since the last one.
package logevery

import (
	"sync"
	"time"
)

// Limiter lets one line per key through every period.
type Limiter struct {
	every time.Duration
	cap   int

	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	last    time.Time
	skipped int
}

// New returns a limiter keeping at most capacity keys (beyond it, the
// table starts over: a flood from many keys logs a line per key again,
// at worst once per period each).
func New(every time.Duration, capacity int) *Limiter {
	return &Limiter{every: every, cap: capacity, m: map[string]*entry{}}
}

// Allow says whether to write the line for key now, and how many lines
// for key were left out since the last one written.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, skipped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil {
		if len(l.m) >= l.cap {
			clear(l.m)
		}
		l.m[key] = &entry{last: now}
		return true, 0
	}
	if now.Sub(e.last) < l.every && !now.Before(e.last) {
		e.skipped++
		return false, 0
	}
	skipped = e.skipped
	e.last, e.skipped = now, 0
	return true, skipped
}
