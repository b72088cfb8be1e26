package collector

import (
	"regexp"
	"time"
)

// joiner folds continuation lines (a Java stack trace, a Python
// traceback) into the event they belong to: a line matching start begins
// an event, any other line continues the open one. An event is complete
// when the next one starts, when it reaches max bytes, or when no line
// came for timeout.
type joiner struct {
	start   *regexp.Regexp
	max     int
	timeout time.Duration

	text      []byte
	from, end int64     // offsets of the event's first byte and after its last line
	since     time.Time // when the open event got its last line
	open      bool
}

// event is one complete multi-line event.
type event struct {
	text      []byte
	from, end int64
}

// add takes one line (without its newline) and returns the event it
// completed, if any. The returned text is only valid until the next call.
func (j *joiner) add(line []byte, from, end int64, now time.Time) (done event, ok bool) {
	if j.open && !j.start.Match(line) && len(j.text)+1+len(line) <= j.max {
		j.text = append(j.text, '\n')
		j.text = append(j.text, line...)
		j.end, j.since = end, now
		return event{}, false
	}
	if j.open {
		done, ok = event{text: append([]byte(nil), j.text...), from: j.from, end: j.end}, true
	}
	if len(line) > j.max {
		line = line[:j.max]
	}
	j.text = append(j.text[:0], line...)
	j.from, j.end, j.since, j.open = from, end, now, true
	return done, ok
}

// due reports whether the open event has waited out its timeout.
func (j *joiner) due(now time.Time) bool {
	return j.open && now.Sub(j.since) >= j.timeout
}

// flush completes the open event.
func (j *joiner) flush() (event, bool) {
	if !j.open {
		return event{}, false
	}
	j.open = false
	return event{text: append([]byte(nil), j.text...), from: j.from, end: j.end}, true
}
