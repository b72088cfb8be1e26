package logparse

import (
	"errors"
	"sort"
	"time"
)

// parseFunc is the internal shape of every format parser. It takes the line
// as one string so that every string in the returned Event can be a
// substring of it: converting the line once is then the only allocation a
// typical line costs, and detection can try several parsers without
// converting again.
type parseFunc func(s string, now time.Time, loc *time.Location) (Event, error)

// formats maps the format names used in collector configs to parsers. A new
// format is one more entry here (and, if it can be recognised by content,
// one more entry in detectOrder). The table is never written at run time.
var formats = map[string]parseFunc{
	"syslog":  parseSyslog,
	"rfc3164": parseRFC3164,
	"rfc5424": parseRFC5424,
	// The collector renders journal entries as syslog file lines.
	"journal":        parseSyslog,
	"combined":       parseCombined,
	"common":         parseCombined,
	"vhost_combined": parseVhostCombined,
	"nginx_error":    parseNginxError,
	"apache_error":   parseApacheError,
	"json":           parseJSON,
	"logfmt":         parseLogfmt,
}

// detectOrder lists the parsers tried, in order, when the format is "auto",
// empty or unknown. Parsers that reject a foreign line quickly and with the
// fewest false positives belong first: JSON, Apache and nginx error logs
// and syslog each look at the first bytes only ('{', "[Www Mmm", "yyyy/",
// "<PRI>", "Mmm dd" or an ISO date). Access logs need a scan for the
// bracketed time, and logfmt, the most ambiguous shape, goes last and in
// its strict form (every word key=value, at least two).
var detectOrder = []parseFunc{
	parseJSON,
	parseApacheError,
	parseNginxError,
	parseSyslog,
	parseAccessAuto,
	parseLogfmtStrict,
}

// Formats returns the format names Parse accepts besides "" and "auto".
// "common" and "combined" share one parser, which reads both.
func Formats() []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ErrSyntax is matched (with errors.Is) by every error the parsers return.
var ErrSyntax = errors.New("syntax error")

// SyntaxError says why a line does not fit a format. The parsers return
// preallocated values so that a rejected line costs no allocation, which
// matters when detection tries several formats.
type SyntaxError struct {
	Format string
	Reason string
}

func (e *SyntaxError) Error() string { return e.Format + ": " + e.Reason }

// Is makes every SyntaxError match ErrSyntax.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Parse is the entry point for every stored line. format "" or "auto"
// detects the format by content; a known format name forces that parser;
// an unknown name falls back to detection. Parse never fails: a line no
// parser accepts becomes an event whose Message is the whole line, with
// unknown severity and facility and a zero Time. A nil loc means
// time.Local. Trailing CR, LF and NUL are dropped.
func Parse(format string, line []byte, now time.Time, loc *time.Location) (ev Event) {
	s := string(trimEOL(line))
	if loc == nil {
		loc = time.Local
	}
	defer func() {
		// The parsers are fuzzed and should never panic; this guard only
		// keeps one hostile line from taking the loghost down if they do.
		if recover() != nil {
			ev = NewEvent()
			ev.Message = s
		}
	}()
	if format != "" && format != "auto" {
		if p, ok := formats[format]; ok {
			if ev, err := p(s, now, loc); err == nil {
				return ev
			}
			return plain(s)
		}
	}
	for _, p := range detectOrder {
		if ev, err := p(s, now, loc); err == nil {
			return ev
		}
	}
	return plain(s)
}

func plain(s string) Event {
	ev := NewEvent()
	ev.Message = s
	return ev
}

// ParseSyslog parses an RFC 5424 or an RFC 3164 line, telling them apart by
// the version number that follows the PRI in RFC 5424.
func ParseSyslog(line []byte, now time.Time, loc *time.Location) (Event, error) {
	if loc == nil {
		loc = time.Local
	}
	return parseSyslog(string(trimEOL(line)), now, loc)
}

func parseSyslog(s string, now time.Time, loc *time.Location) (Event, error) {
	if is5424(s) {
		return parseRFC5424(s, now, loc)
	}
	return parseRFC3164(s, now, loc)
}

// is5424 reports whether s starts with "<PRI>VERSION SP".
func is5424(s string) bool {
	_, i, ok := parsePRI(s)
	if !ok {
		return false
	}
	j := i
	for j < len(s) && j-i < 3 && isDigit(s[j]) {
		j++
	}
	return j > i && j-i <= 2 && j < len(s) && s[j] == ' '
}

// parsePRI reads "<N>" with N in 0..191 and returns N and the index after
// '>'.
func parsePRI(s string) (pri, next int, ok bool) {
	if len(s) < 3 || s[0] != '<' {
		return 0, 0, false
	}
	i := 1
	for i < len(s) && i <= 4 && isDigit(s[i]) {
		pri = pri*10 + int(s[i]-'0')
		i++
	}
	if i == 1 || i > 4 || i >= len(s) || s[i] != '>' || pri > 191 {
		return 0, 0, false
	}
	return pri, i + 1, true
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// atoiN parses exactly n ASCII digits at s[i:].
func atoiN(s string, i, n int) (int, bool) {
	if i < 0 || i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		c := s[k]
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
