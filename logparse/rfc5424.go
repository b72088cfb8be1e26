package logparse

import (
	"strings"
	"time"
)

var (
	errVersion   = &SyntaxError{"rfc5424", "bad version"}
	errTruncated = &SyntaxError{"rfc5424", "header ends early"}
	errTime5424  = &SyntaxError{"rfc5424", "bad timestamp"}
	errSD        = &SyntaxError{"rfc5424", "bad structured data"}
)

// bom is the UTF-8 byte order mark RFC 5424 allows before MSG.
const bom = "\xef\xbb\xbf"

// ParseRFC5424 parses "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD
// [MSG]". APP-NAME becomes Program, PROCID PID, MSGID the field "msgid" and
// each SD parameter a field "sd.<SD-ID>.<name>", followed by the fields of
// the program's message parser (see EnrichMessage). A nil loc means time.Local;
// it is only used to avoid allocating a zone for timestamps in that zone.
func ParseRFC5424(line []byte, now time.Time, loc *time.Location) (Event, error) {
	if loc == nil {
		loc = time.Local
	}
	return parseRFC5424(string(trimEOL(line)), now, loc)
}

func parseRFC5424(s string, _ time.Time, loc *time.Location) (Event, error) {
	ev := NewEvent()
	pri, i, ok := parsePRI(s)
	if !ok {
		return ev, errBadPRI
	}
	ev.Severity, ev.Facility = pri&7, pri>>3
	j := i
	for j < len(s) && j-i < 3 && isDigit(s[j]) {
		j++
	}
	if j == i || j-i > 2 || s[i] == '0' || j >= len(s) || s[j] != ' ' {
		return ev, errVersion
	}
	i = j + 1

	var ts string
	if ts, i, ok = headerField(s, i); !ok {
		return ev, errTruncated
	}
	if ts != "-" {
		t, n, ok := parseRFC3339(ts, 0, loc, false)
		if !ok || n != len(ts) {
			return ev, errTime5424
		}
		ev.Time = t
	}
	var host, app, procid, msgid string
	if host, i, ok = headerField(s, i); !ok {
		return ev, errTruncated
	}
	if app, i, ok = headerField(s, i); !ok {
		return ev, errTruncated
	}
	if procid, i, ok = headerField(s, i); !ok {
		return ev, errTruncated
	}
	if msgid, i, ok = headerField(s, i); !ok {
		return ev, errTruncated
	}
	ev.Host, ev.Program, ev.PID = nilValue(host), nilValue(app), nilValue(procid)
	if msgid != "-" {
		ev.Fields = append(make([]Field, 0, 4), Field{Key: "msgid", Value: msgid})
	}

	if i >= len(s) {
		return ev, errTruncated
	}
	switch s[i] {
	case '-':
		i++
	case '[':
		var err error
		if ev.Fields, i, err = parseSD(s, i, ev.Fields); err != nil {
			return ev, err
		}
	default:
		return ev, errSD
	}
	if i < len(s) {
		if s[i] != ' ' {
			return ev, errSD
		}
		msg := s[i+1:]
		// rsyslog's SyslogProtocol23Format puts "%msg%" after the SD, and
		// msg keeps the space that followed the tag's colon, so rsyslog
		// sends two spaces; the second one is not the sender's text.
		if len(msg) > 0 && msg[0] == ' ' {
			msg = msg[1:]
		}
		ev.Message = strings.TrimPrefix(msg, bom)
	}
	enrich(&ev)
	return ev, nil
}

// headerField returns the space-terminated field at s[i:] and the index
// after the space.
func headerField(s string, i int) (string, int, bool) {
	if i >= len(s) {
		return "", 0, false
	}
	sp := strings.IndexByte(s[i:], ' ')
	if sp <= 0 {
		return "", 0, false
	}
	return s[i : i+sp], i + sp + 1, true
}

func nilValue(v string) string {
	if v == "-" {
		return ""
	}
	return v
}

// parseSD reads one or more "[ID name="value" ...]" elements at s[i:].
func parseSD(s string, i int, fields []Field) ([]Field, int, error) {
	for i < len(s) && s[i] == '[' {
		i++
		start := i
		for i < len(s) && s[i] != ' ' && s[i] != ']' && s[i] != '=' && s[i] != '"' {
			i++
		}
		id := s[start:i]
		if id == "" {
			return fields, 0, errSD
		}
		for {
			if i >= len(s) {
				return fields, 0, errSD
			}
			if s[i] == ']' {
				i++
				break
			}
			if s[i] != ' ' {
				return fields, 0, errSD
			}
			for i < len(s) && s[i] == ' ' {
				i++
			}
			start = i
			for i < len(s) && s[i] != ' ' && s[i] != ']' && s[i] != '=' && s[i] != '"' {
				i++
			}
			name := s[start:i]
			if name == "" || i+1 >= len(s) || s[i] != '=' || s[i+1] != '"' {
				return fields, 0, errSD
			}
			i += 2
			start = i
			escaped := false
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					escaped = true
					i++
				}
				i++
			}
			if i >= len(s) {
				return fields, 0, errSD
			}
			val := s[start:i]
			if escaped {
				val = unescapeSD(val)
			}
			i++
			if fields == nil {
				fields = make([]Field, 0, 4)
			}
			fields = append(fields, Field{Key: "sd." + id + "." + name, Value: val})
		}
	}
	return fields, i, nil
}

// unescapeSD undoes the three escapes RFC 5424 defines for PARAM-VALUE; a
// backslash before any other character is kept, as the RFC requires.
func unescapeSD(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			switch v[i+1] {
			case '"', '\\', ']':
				b.WriteByte(v[i+1])
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}
