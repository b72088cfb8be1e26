// Package wallclock reads cron schedules as cron does: in the wall-clock
// time of a zone. Reading them in absolute time instead (as the cron
// library does across a DST change) moves a job the spring change skips
// to the next day, so a backup due at 02:00 that never ran would be
// noticed a day late.
package wallclock

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a cron expression in a zone.
type Schedule struct {
	s   cron.Schedule
	loc *time.Location
}

// Parse reads a standard five-field cron expression in loc.
// A zone in the expression (TZ=, CRON_TZ=) is refused: schedules are
// read in the configured timezone. The cron library panics on some such
// prefixes ("CRON_TZ="); no input may panic here.
func Parse(expr string, loc *time.Location) (sch Schedule, err error) {
	if t := strings.TrimSpace(expr); strings.HasPrefix(t, "TZ=") || strings.HasPrefix(t, "CRON_TZ=") {
		return Schedule{}, fmt.Errorf("cron %q: no TZ= or CRON_TZ= (schedules are read in the configured timezone)", expr)
	}
	defer func() {
		if r := recover(); r != nil {
			sch, err = Schedule{}, fmt.Errorf("cron %q: unreadable", expr)
		}
	}()
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return Schedule{}, fmt.Errorf("cron %q: %w", expr, err)
	}
	return Schedule{s, loc}, nil
}

// Next is the first time after t the schedule names. A wall time the
// spring change skips comes when the clock jumps (as Debian's cron runs
// it); an hour the autumn change repeats comes once.
func (z Schedule) Next(t time.Time) time.Time {
	w := wall(t.In(z.loc))
	// Twice is enough: only a wall time inside a repeated hour can map
	// to an instant before t, and the next one cannot.
	for i := 0; i < 3; i++ {
		n := z.s.Next(w)
		if n.IsZero() {
			return n
		}
		r := instant(n, z.loc)
		if e := earlier(r, n); e.After(t) {
			return e // the first pass of a repeated hour, as cron runs it
		}
		if r.After(t) {
			return r
		}
		w = n
	}
	return time.Time{}
}

// wall is t's wall-clock reading, written as a UTC time (which has no
// DST, so the cron library steps through it as a calendar does).
func wall(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// earlier is the first instant whose wall clock reads w when the autumn
// change makes it read w twice and r is the second; else r.
func earlier(r, w time.Time) time.Time {
	start, _ := r.ZoneBounds()
	if start.IsZero() {
		return r
	}
	_, offNow := r.Zone()
	_, offBefore := start.Add(-time.Nanosecond).Zone()
	if offBefore <= offNow {
		return r
	}
	e := r.Add(-time.Duration(offBefore-offNow) * time.Second)
	if e.Before(start) && wall(e.In(r.Location())).Equal(w) {
		return e
	}
	return r
}

// instant is when the clocks of loc read w; for a reading the spring
// change skips, the moment of the jump.
func instant(w time.Time, loc *time.Location) time.Time {
	r := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	got := wall(r)
	if got.Equal(w) {
		return r
	}
	// time.Date put r on one side of the gap or the other, depending on
	// the zone; the jump is the bound of r's zone on the side of w.
	start, end := r.ZoneBounds()
	if got.Before(w) {
		return end
	}
	return start
}
