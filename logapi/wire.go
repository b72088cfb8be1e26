// Package logapi is the log search API: GET /api/v1/logs and the
// websocket /api/v1/logs/tail, their wire format, and the client that
// watchpost grep uses against a remote loghost.
package logapi

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/watchpost/watchpost/store"
)

// Event is one log record on the wire (NDJSON lines of /api/v1/logs,
// messages of the tail websocket, grep -o json).
type Event struct {
	Seq      int64             `json:"seq"`
	Time     time.Time         `json:"time"`
	Received time.Time         `json:"received"`
	Host     string            `json:"host"`
	Program  string            `json:"program,omitempty"`
	PID      string            `json:"pid,omitempty"`
	Severity string            `json:"severity,omitempty"`
	Facility string            `json:"facility,omitempty"`
	File     string            `json:"file,omitempty"`
	Source   string            `json:"source,omitempty"`
	Site     string            `json:"site,omitempty"`
	Format   string            `json:"format,omitempty"`
	Message  string            `json:"message,omitempty"`
	Line     string            `json:"line,omitempty"`
	LineB64  string            `json:"line_b64,omitempty"` // when the line is not valid UTF-8
	Fields   map[string]string `json:"fields,omitempty"`
	// Context marks a context line (not a match) and Group numbers runs of
	// adjacent lines, as grep -C separates them with "--".
	Context bool `json:"context,omitempty"`
	Group   int  `json:"group,omitempty"`
	// Missed, on a tail message with no line, counts records a slow
	// follower did not get.
	Missed int64 `json:"missed,omitempty"`
}

// FromRecord converts a stored record.
func FromRecord(r *store.Record) Event {
	e := Event{Seq: r.Seq, Time: r.Time, Received: r.Received, Host: r.Host, Program: r.Program, PID: r.PID,
		File: r.File, Source: r.Source, Site: r.Site, Format: r.Format}
	e.Severity, _ = r.Get("severity")
	e.Facility, _ = r.Get("facility")
	if utf8.ValidString(r.Raw) {
		e.Line = r.Raw
		if r.Message != r.Raw {
			e.Message = r.Message
		}
	} else {
		e.LineB64 = base64.StdEncoding.EncodeToString([]byte(r.Raw))
		e.Message = strings.ToValidUTF8(r.Message, "\uFFFD")
	}
	if len(r.Fields) > 0 {
		e.Fields = make(map[string]string, len(r.Fields))
		for _, f := range r.Fields {
			e.Fields[f.Key] = strings.ToValidUTF8(f.Value, "\uFFFD")
		}
	}
	return e
}

// Raw returns the line's bytes.
func (e *Event) Raw() string {
	if e.LineB64 != "" {
		if b, err := base64.StdEncoding.DecodeString(e.LineB64); err == nil {
			return string(b)
		}
	}
	return e.Line
}

// ParseTime reads a -since/-until value: a duration back from now (90s,
// 2h, 3d, 1w), an RFC 3339 time, or a local date and time
// ("2026-11-22", "2026-11-22 14:05", "2026-11-22T14:05:09").
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want a duration (30m, 2h, 3d), RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]]", s)
}

// ParseDuration is time.ParseDuration plus d (days) and w (weeks).
func ParseDuration(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		unit := rest[i]
		if unit == 'd' || unit == 'w' {
			var n float64
			if _, err := fmt.Sscanf(rest[:i], "%g", &n); err != nil {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			per := 24 * time.Hour
			if unit == 'w' {
				per *= 7
			}
			total += time.Duration(n * float64(per))
			rest = rest[i+1:]
			continue
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		d, err := time.ParseDuration(rest[:j])
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		total += d
		rest = rest[j:]
	}
	if total < 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return total, nil
}
