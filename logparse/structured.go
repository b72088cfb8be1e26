package logparse

import (
	"math"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

var (
	errJSON   = &SyntaxError{"json", "not a JSON object"}
	errLogfmt = &SyntaxError{"logfmt", "not key=value pairs"}
)

// maxJSONDepth bounds the recursion of the JSON reader; deeper objects are
// kept as their JSON text under the key where the limit was reached.
const maxJSONDepth = 16

// wellKnown applies the keys structured loggers agree on (time, ts,
// timestamp, @timestamp; level, severity, lvl, log.level; msg, message;
// host, hostname, host.name; pid) to the event and reports whether the key was used. A
// value that does not fit (a level word nobody uses, a time in an unknown
// shape) is left to be an ordinary field.
func wellKnown(ev *Event, key, val string, str bool, loc *time.Location) bool {
	switch key {
	case "time", "ts", "timestamp", "@timestamp":
		if !ev.Time.IsZero() {
			return false
		}
		if t, ok := structuredTime(val, str, loc); ok {
			ev.Time = t
			return true
		}
	case "level", "severity", "lvl", "log.level", "loglevel":
		if ev.Severity != Unknown {
			return false
		}
		if sev := structuredLevel(val, str); sev != Unknown {
			ev.Severity = sev
			return true
		}
	case "msg", "message":
		if str && ev.Message == "" && val != "" {
			ev.Message = val
			return true
		}
	case "host", "hostname", "host.name":
		if str && ev.Host == "" && val != "" {
			ev.Host = val
			return true
		}
	case "pid":
		if ev.PID == "" && allDigits(val) {
			ev.PID = val
			return true
		}
	}
	return false
}

func structuredTime(v string, str bool, loc *time.Location) (time.Time, bool) {
	if str {
		if t, n, ok := parseRFC3339(v, 0, loc, true); ok && n == len(v) {
			return t, true
		}
		if !allNumber(v) {
			return time.Time{}, false
		}
	}
	// Epoch numbers: seconds (with or without a fraction), or integer
	// milliseconds, microseconds or nanoseconds, told apart by size.
	if !allNumber(v) {
		return time.Time{}, false
	}
	if dot := strings.IndexByte(v, '.'); dot >= 0 {
		sec, ok := atoiAll(v[:dot])
		if !ok || sec > 1<<34 {
			return time.Time{}, false
		}
		nsec, end := parseFrac(v, dot+1)
		if end != len(v) {
			return time.Time{}, false
		}
		return time.Unix(sec, int64(nsec)).In(loc), true
	}
	n, ok := atoiAll(v)
	if !ok {
		return time.Time{}, false
	}
	switch {
	case n < 1e11:
		return time.Unix(n, 0).In(loc), true
	case n < 1e14:
		return time.UnixMilli(n).In(loc), true
	case n < 1e17:
		return time.UnixMicro(n).In(loc), true
	default:
		return time.Unix(0, n).In(loc), true
	}
}

func allNumber(v string) bool {
	if v == "" {
		return false
	}
	dots := 0
	for i := 0; i < len(v); i++ {
		if v[i] == '.' {
			dots++
		} else if !isDigit(v[i]) {
			return false
		}
	}
	return dots <= 1 && v[0] != '.'
}

// atoiAll parses a non-negative decimal that fits in int64.
func atoiAll(v string) (int64, bool) {
	if v == "" || len(v) > 19 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, n >= 0 && n < math.MaxInt64
}

// structuredLevel understands level words and, for numbers, syslog
// severities (0-7) and the bunyan/pino scale (10 trace .. 60 fatal).
func structuredLevel(v string, str bool) int {
	if n, ok := atoiAll(v); ok && (!str || len(v) <= 2) {
		switch {
		case n <= 7:
			return int(n)
		case n == 10, n == 20:
			return 7
		case n == 30:
			return 6
		case n == 40:
			return 4
		case n == 50:
			return 3
		case n == 60:
			return 2
		}
		return Unknown
	}
	if !str {
		return Unknown
	}
	return severityOf(v)
}

// parseJSON reads one JSON object per line. Nested objects are flattened
// into dotted keys ({"http":{"status":200}} gives http.status=200);
// arrays are kept as their JSON text; numbers, true, false and null as
// written. The well-known keys fill Time, Severity, Message and Host; the
// rest become fields in the order they appear. Without a message key the
// Message is the whole line.
func parseJSON(s string, _ time.Time, loc *time.Location) (Event, error) {
	i := skipWS(s, 0)
	if i >= len(s) || s[i] != '{' {
		return NewEvent(), errJSON
	}
	r := jsonReader{s: s, loc: loc, ev: NewEvent()}
	i, ok := r.object(i, "", 0)
	if !ok || skipWS(s, i) != len(s) {
		return NewEvent(), errJSON
	}
	if r.ev.Message == "" {
		r.ev.Message = s
	}
	r.ev.Fields = r.f
	return r.ev, nil
}

type jsonReader struct {
	s   string
	loc *time.Location
	ev  Event
	f   []Field
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// object reads the object at s[i] == '{' and returns the index after it.
func (r *jsonReader) object(i int, prefix string, depth int) (int, bool) {
	s := r.s
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, false
		}
		key, next, ok := jsonString(s, i)
		if !ok {
			return 0, false
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		i = skipWS(s, next)
		if i >= len(s) || s[i] != ':' {
			return 0, false
		}
		i = skipWS(s, i+1)
		if i >= len(s) {
			return 0, false
		}
		switch c := s[i]; {
		case c == '{' && depth+1 < maxJSONDepth:
			if i, ok = r.object(i, key, depth+1); !ok {
				return 0, false
			}
		case c == '"':
			val, next, ok := jsonString(s, i)
			if !ok {
				return 0, false
			}
			r.add(key, val, true)
			i = next
		default:
			end, ok := jsonSkip(s, i, 0)
			if !ok {
				return 0, false
			}
			r.add(key, s[i:end], false)
			i = end
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return 0, false
		}
		if s[i] == '}' {
			return i + 1, true
		}
		if s[i] != ',' {
			return 0, false
		}
		i = skipWS(s, i+1)
	}
}

func (r *jsonReader) add(key, val string, str bool) {
	if wellKnown(&r.ev, key, val, str, r.loc) {
		return
	}
	if r.f == nil {
		r.f = make([]Field, 0, 8)
	}
	r.f = append(r.f, Field{key, val})
}

// jsonSkip returns the index after the JSON value at s[i] (a number,
// literal, array or object), checking its syntax only as far as needed to
// find its end.
func jsonSkip(s string, i, depth int) (int, bool) {
	if i >= len(s) || depth > 64 {
		return 0, false
	}
	switch c := s[i]; {
	case c == '"':
		_, next, ok := jsonStringEnd(s, i)
		return next, ok
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(s, i+1)
		if i < len(s) && s[i] == closer {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return 0, false
				}
				_, next, ok := jsonStringEnd(s, i)
				if !ok {
					return 0, false
				}
				i = skipWS(s, next)
				if i >= len(s) || s[i] != ':' {
					return 0, false
				}
				i = skipWS(s, i+1)
			}
			end, ok := jsonSkip(s, i, depth+1)
			if !ok {
				return 0, false
			}
			i = skipWS(s, end)
			if i >= len(s) {
				return 0, false
			}
			if s[i] == closer {
				return i + 1, true
			}
			if s[i] != ',' {
				return 0, false
			}
			i = skipWS(s, i+1)
		}
	case c == '-' || isDigit(c):
		j := i + 1
		for j < len(s) && (isDigit(s[j]) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == '+' || s[j] == '-') {
			j++
		}
		return j, true
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(s[i:], lit) {
				return i + len(lit), true
			}
		}
		return 0, false
	}
}

// jsonStringEnd finds the closing quote of the string at s[i] == '"' and
// reports whether the string has escapes.
func jsonStringEnd(s string, i int) (escaped bool, next int, ok bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '"':
			return escaped, j + 1, true
		case '\\':
			escaped = true
			j++
		}
	}
	return false, 0, false
}

// jsonString returns the decoded string at s[i] == '"'; without escapes it
// is a substring of s and costs nothing.
func jsonString(s string, i int) (string, int, bool) {
	escaped, next, ok := jsonStringEnd(s, i)
	if !ok {
		return "", 0, false
	}
	raw := s[i+1 : next-1]
	if !escaped {
		return raw, next, true
	}
	v, ok := unescapeJSON(raw)
	return v, next, ok
}

func unescapeJSON(v string) (string, bool) {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(v) {
			return "", false
		}
		switch v[i] {
		case '"', '\\', '/':
			b.WriteByte(v[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(v, i+1)
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(v, i+3); ok && i+2 < len(v) && v[i+1] == '\\' && v[i+2] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return b.String(), true
}

func hex4(v string, i int) (rune, bool) {
	if i+4 > len(v) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(v[i : i+4]) {
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func parseLogfmt(s string, _ time.Time, loc *time.Location) (Event, error) {
	return logfmt(s, loc, false)
}

func parseLogfmtStrict(s string, _ time.Time, loc *time.Location) (Event, error) {
	return logfmt(s, loc, true)
}

// logfmt reads key=value pairs separated by spaces; values may be
// double-quoted with Go-style escapes (\" \\ \n \t). A bare key means
// true, as in go-logfmt. The well-known keys are used as in JSON. strict,
// used by detection, demands that every word be key=value and that there
// be at least two, so that ordinary prose is not mistaken for logfmt.
func logfmt(s string, loc *time.Location, strict bool) (Event, error) {
	ev := NewEvent()
	var f []Field
	pairs := 0
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		ks := i
		for i < len(s) && s[i] != ' ' && s[i] != '=' && s[i] != '"' {
			if s[i] < 0x21 || s[i] == 0x7f {
				return NewEvent(), errLogfmt
			}
			i++
		}
		key := s[ks:i]
		if key == "" {
			return NewEvent(), errLogfmt
		}
		if i >= len(s) || s[i] != '=' {
			if strict || (i < len(s) && s[i] == '"') {
				return NewEvent(), errLogfmt
			}
			f = appendField(f, key, "true")
			continue
		}
		i++
		var val string
		str := false
		if i < len(s) && s[i] == '"' {
			end := i + 1
			escaped := false
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					escaped = true
					end++
				}
				end++
			}
			if end >= len(s) {
				return NewEvent(), errLogfmt
			}
			val = s[i+1 : end]
			if escaped {
				var ok bool
				if val, ok = unescapeJSON(val); !ok {
					val = s[i+1 : end]
				}
			}
			i, str = end+1, true
			if i < len(s) && s[i] != ' ' {
				return NewEvent(), errLogfmt
			}
		} else {
			vs := i
			for i < len(s) && s[i] != ' ' {
				if s[i] == '"' && strict {
					return NewEvent(), errLogfmt
				}
				i++
			}
			val = s[vs:i]
			str = !allNumber(val)
		}
		pairs++
		if !wellKnown(&ev, key, val, str || key == "msg" || key == "message", loc) {
			f = appendField(f, key, val)
		}
	}
	if pairs == 0 || strict && pairs < 2 {
		return NewEvent(), errLogfmt
	}
	if ev.Message == "" {
		ev.Message = s
	}
	ev.Fields = f
	return ev, nil
}

func appendField(f []Field, k, v string) []Field {
	if f == nil {
		f = make([]Field, 0, 8)
	}
	return append(f, Field{k, v})
}
