package alerting

import "time"

// limiter counts a receiver's messages in one-minute windows, so an alert
// storm reaches each receiver at a bounded rate (grouping then collapses
// what waits). It lives in memory: a restart starts a fresh window.
type limiter struct {
	per   int
	start time.Time
	n     int
}

// allow takes one message from the window; when none is left it says
// when the next window opens.
func (l *limiter) allow(now time.Time) (bool, time.Time) {
	if l.per <= 0 {
		return true, now
	}
	if now.Before(l.start) || !now.Before(l.start.Add(time.Minute)) {
		l.start, l.n = now, 0
	}
	if l.n < l.per {
		l.n++
		return true, now
	}
	return false, l.start.Add(time.Minute)
}

func (d *Dispatcher) limiter(name string, per int) *limiter {
	l := d.limits[name]
	if l == nil || l.per != per {
		l = &limiter{per: per}
		d.limits[name] = l
	}
	return l
}
