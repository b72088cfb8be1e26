package store

import (
	"errors"
	"strconv"
	"time"

	"github.com/watchpost/watchpost/logparse"
)

// Kind tells what a stream record holds.
type Kind uint8

const (
	KindLog    Kind = 1 // a log line with its parsed fields
	KindMetric Kind = 2 // metric samples with munin-style graph metadata (JSON in Data)
	KindReport Kind = 3 // a collector self-report (JSON in Data)
)

// Record is one entry of the durable event stream: a log line, a metric
// sample set or a collector report. The writer assigns Seq in commit order,
// so Seq is the ingest order that followers and consumers go by.
type Record struct {
	Seq      int64
	Kind     Kind
	Received time.Time
	// logparse.Event holds the parsed line. Event.Time is the event's own
	// time, or Received when the line carries none.
	logparse.Event
	Source string // collector source id; "" for syslog and self-reports
	Gen    string // file generation; changes when the file is replaced or truncated
	Offset int64  // byte offset of the line in its source generation; -1 when none
	File   string // path the line was read from, if any
	Format string // format hint from the collector config ("combined", ...)
	Site   string // web-statistics site of access-log lines
	Raw    string // the line as received (invalid UTF-8 kept byte for byte)
	Data   []byte // JSON payload of metric and report records
}

// Get returns a standard or parser field by name, for query matching.
// Severity and facility are returned as their keywords.
func (r *Record) Get(name string) (string, bool) {
	switch name {
	case "host":
		return r.Host, true
	case "program":
		return r.Program, r.Program != ""
	case "pid":
		return r.PID, r.PID != ""
	case "severity":
		if r.Severity >= 0 && r.Severity < len(logparse.SeverityNames) {
			return logparse.SeverityNames[r.Severity], true
		}
		return "", false
	case "facility":
		if r.Facility >= 0 && r.Facility < len(logparse.FacilityNames) {
			return logparse.FacilityNames[r.Facility], true
		}
		return "", false
	case "file":
		return r.File, r.File != ""
	case "site":
		return r.Site, r.Site != ""
	case "format":
		return r.Format, r.Format != ""
	case "source":
		return r.Source, r.Source != ""
	case "message":
		return r.Message, true
	case "seq":
		return strconv.FormatInt(r.Seq, 10), true
	}
	return r.Event.Field(name)
}

// Line returns the raw line, which bare query words are matched against.
func (r *Record) Line() string { return r.Raw }

// Errors the writer returns; the ingest API maps them to HTTP answers.
var (
	// ErrBusy means the writer queue is full: answer 503 with Retry-After.
	ErrBusy = errors.New("store writer is behind")
	// ErrQuota means the host is over its ingest quota: answer 429.
	ErrQuota = errors.New("host is over its quota")
	// ErrClosed means the store is shutting down.
	ErrClosed = errors.New("store is closed")
	// ErrPredecessor means the batch an AppendAsync was chained after
	// was not stored, so this one was not either: resend both.
	ErrPredecessor = errors.New("the batch before this one was not stored")
)

// AppendResult reports what one Append call stored.
type AppendResult struct {
	Stored   int   // records committed
	Replays  int   // records dropped as replays of already stored lines
	FirstSeq int64 // seq of the first stored record (0 when none)
	LastSeq  int64
}

// How far an event's own time may lie from when it arrived. A sender's
// clock or a crafted line can claim any date (9999-12-31 would sort
// first in every search and outlive retention; 1970 would be deleted by
// the next retention pass): beyond these bounds the event is filed at
// the bound and the claimed time kept in the field claimed_time. The
// past bound is wide so that old logs can still be imported.
const (
	MaxEventAhead  = 24 * time.Hour
	MaxEventBehind = 10 * 366 * 24 * time.Hour
)

// ClaimedTimeField holds the time a clamped event claimed (RFC 3339).
const ClaimedTimeField = "claimed_time"

// ClampTime keeps r.Time within MaxEventAhead of r.Received and
// MaxEventBehind before it; it reports whether it moved the time.
func (r *Record) ClampTime() bool {
	if r.Time.IsZero() || r.Received.IsZero() {
		return false
	}
	lo, hi := r.Received.Add(-MaxEventBehind), r.Received.Add(MaxEventAhead)
	t := r.Time
	switch {
	case t.After(hi):
		r.Time = hi
	case t.Before(lo):
		r.Time = lo
	default:
		return false
	}
	r.Fields = append(r.Fields, logparse.Field{Key: ClaimedTimeField, Value: t.UTC().Format(time.RFC3339Nano)})
	return true
}
