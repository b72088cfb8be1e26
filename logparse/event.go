// Package logparse turns raw log lines into structured events. It is a pure
// library: no storage, no network, usable from the CLI alone.
package logparse

import "time"

// Severity and facility values follow RFC 5424; Unknown marks a line that
// carries none.
const Unknown = -1

// Event is one parsed log line.
type Event struct {
	// Time is the event's own time; zero when the line carries none (the
	// store then uses the time received).
	Time     time.Time
	Host     string
	Program  string
	PID      string
	Severity int // 0 (emerg) .. 7 (debug), or Unknown
	Facility int // 0 (kern) .. 23 (local7), or Unknown
	// Message is the free text after the header; for lines without a
	// header it equals the whole line.
	Message string
	// Fields are the parser's named fields (status, method, client, user,
	// queue_id, sd.origin.ip ...), in the order the parser found them.
	Fields []Field
}

// Field is one named value extracted by a parser.
type Field struct {
	Key   string
	Value string
}

// NewEvent returns an event with unknown severity and facility.
func NewEvent() Event {
	return Event{Severity: Unknown, Facility: Unknown}
}

// Field returns the value of the named parser field.
func (e *Event) Field(key string) (string, bool) {
	for _, f := range e.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// SeverityNames are the RFC 5424 keywords, indexed by severity.
var SeverityNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// FacilityNames are the conventional keywords, indexed by facility.
var FacilityNames = [...]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
