package logparse

import (
	"strings"
	"time"
)

var (
	errAccess       = &SyntaxError{"access", "not an access log line"}
	errAccessTime   = &SyntaxError{"access", "bad [time]"}
	errAccessQuote  = &SyntaxError{"access", "unterminated quoted field"}
	errAccessStatus = &SyntaxError{"access", "bad status"}
)

// accessMode says what precedes the client address.
type accessMode uint8

const (
	accessAuto  accessMode = iota // vhost when there is one word too many before [time]
	accessCLF                     // common and combined: client first
	accessVhost                   // vhost_combined: "vhost[:port]" first
)

func parseCombined(s string, _ time.Time, loc *time.Location) (Event, error) {
	return parseAccess(s, loc, accessCLF)
}

func parseVhostCombined(s string, _ time.Time, loc *time.Location) (Event, error) {
	return parseAccess(s, loc, accessVhost)
}

func parseAccessAuto(s string, _ time.Time, loc *time.Location) (Event, error) {
	return parseAccess(s, loc, accessAuto)
}

// parseAccess reads the NCSA formats nginx and Apache write:
//
//	common:         client ident user [time] "request" status bytes
//	combined:       common + "referer" "user-agent"
//	vhost_combined: vhost:port + combined (Apache's %v:%p prefix)
//
// One parser serves all three because the forms differ only at the ends:
// "common" forced on a combined line still yields the referer and agent,
// and "combined" forced on a common line yields what is there. Fields
// the line leaves as "-" are omitted; bytes "-" (Apache's %b for an empty
// body) becomes "0" so that numeric queries work. Message is the whole
// line.
func parseAccess(s string, loc *time.Location, mode accessMode) (Event, error) {
	ev := NewEvent()
	// The time is the first " [" followed by a digit: a vhost may be
	// "[2001:db8::1]:443".
	br := -1
	for from := 0; ; {
		k := strings.IndexByte(s[from:], '[')
		if k < 0 || from+k+1 >= len(s) {
			return ev, errAccess
		}
		if br = from + k; br > 0 && s[br-1] == ' ' && isDigit(s[br+1]) {
			break
		}
		from = br + 1
	}
	if br < 6 {
		return ev, errAccess
	}
	head := s[:br-1]
	// Split head into at most five words; the user name (%u) is the only
	// part that may itself contain spaces, so extra words go to it. A word
	// may be empty: nginx with escape=json writes an unset $remote_user
	// as nothing rather than "-".
	var w [5]string
	n := 0
	rest := head
	for n < len(w)-1 {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			break
		}
		w[n], rest = rest[:sp], rest[sp+1:]
		n++
	}
	w[n] = rest
	n++
	if n < 3 {
		return ev, errAccess
	}
	var vhost, client, ident, user string
	switch {
	case mode == accessVhost, mode == accessAuto && n == 4 && w[1] != "-":
		if n < 4 {
			return ev, errAccess
		}
		vhost, client, ident = w[0], w[1], w[2]
		user = head[len(w[0])+len(w[1])+len(w[2])+3:]
	default:
		if mode == accessAuto && n > 4 {
			return ev, errAccess
		}
		client, ident = w[0], w[1]
		user = head[len(w[0])+len(w[1])+2:]
	}
	if !plausibleClient(client) {
		return ev, errAccess
	}
	t, i, ok := parseCLFTime(s, br+1, loc)
	if !ok {
		return ev, errAccessTime
	}
	if i+1 >= len(s) || s[i] != ' ' || s[i+1] != '"' {
		return ev, errAccess
	}
	request, i, ok := quotedAt(s, i+1)
	if !ok {
		return ev, errAccessQuote
	}
	if i+4 > len(s) || s[i] != ' ' {
		return ev, errAccessStatus
	}
	i++
	status := s[i : i+3]
	if !isDigit(status[0]) || !isDigit(status[1]) || !isDigit(status[2]) || (i+3 < len(s) && s[i+3] != ' ') {
		return ev, errAccessStatus
	}
	i += 3
	bytes := ""
	if i+1 < len(s) {
		j := i + 1
		for j < len(s) && s[j] != ' ' {
			j++
		}
		bytes = s[i+1 : j]
		i = j
		if bytes == "-" {
			bytes = "0"
		} else if !allDigits(bytes) {
			return ev, errAccess
		}
	}
	var referer, agent string
	if i+1 < len(s) && s[i] == ' ' && s[i+1] == '"' {
		if referer, i, ok = quotedAt(s, i+1); !ok {
			return ev, errAccessQuote
		}
		if i+1 < len(s) && s[i] == ' ' && s[i+1] == '"' {
			if agent, _, ok = quotedAt(s, i+1); !ok {
				return ev, errAccessQuote
			}
		}
	}
	// Anything after the user agent ($request_time, $upstream_addr ...)
	// is custom and stays in the message only.

	ev.Time = t
	ev.Message = s
	// One allocation of the exact size: the fields are most of what an
	// access line costs to keep, and appending into spare capacity of a
	// fresh slice needs no write barriers.
	vname, vport := "", ""
	if vhost != "" {
		vname, vport = splitHostPort(vhost)
	}
	m, p, proto, reqOK := splitRequest(request)
	nf := 2 + count(vname, vport, ident, user, referer, agent, bytes) // + client, status
	if reqOK {
		nf += 2 + count(proto)
	} else {
		nf += count(request)
	}
	f := make([]Field, 0, nf)
	if vname != "" {
		f = append(f, Field{"vhost", vname})
		if vport != "" {
			f = append(f, Field{"server_port", vport})
		}
	}
	f = append(f, Field{"client", client})
	f = appendSet(f, "ident", ident)
	f = appendSet(f, "user", user)
	if reqOK {
		f = append(f, Field{"method", m}, Field{"path", p})
		if proto != "" {
			f = append(f, Field{"protocol", proto})
		}
	} else {
		// "-", a TLS handshake sent to a plain port, a scanner's junk:
		// keep it whole rather than guess.
		f = appendSet(f, "request", request)
	}
	f = append(f, Field{"status", status})
	if bytes != "" {
		f = append(f, Field{"bytes", bytes})
	}
	f = appendSet(f, "referer", referer)
	f = appendSet(f, "user_agent", agent)
	ev.Fields = f
	return ev, nil
}

// count returns how many of vs appendSet would add.
func count(vs ...string) int {
	n := 0
	for _, v := range vs {
		if v != "" && v != "-" {
			n++
		}
	}
	return n
}

func appendSet(f []Field, k, v string) []Field {
	if v == "" || v == "-" {
		return f
	}
	return append(f, Field{k, v})
}

// plausibleClient rejects words that cannot be %h (an address or a
// resolved host name), so that free text with a bracket is not taken for
// an access log line.
func plausibleClient(c string) bool {
	if c == "" || len(c) > 255 || c == "-" {
		return c == "-"
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !(isDigit(b) || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '.' || b == ':' || b == '-' || b == '_' || b == '%') {
			return false
		}
	}
	return true
}

// splitRequest splits "METHOD PATH PROTOCOL" (or HTTP/0.9's "METHOD
// PATH"). A path with spaces, as sent by broken clients, stays whole.
func splitRequest(r string) (method, path, proto string, ok bool) {
	sp := strings.IndexByte(r, ' ')
	if sp <= 0 {
		return "", "", "", false
	}
	method, rest := r[:sp], r[sp+1:]
	for i := 0; i < len(method); i++ {
		if c := method[i]; !(c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return "", "", "", false
		}
	}
	if last := strings.LastIndexByte(rest, ' '); last >= 0 && strings.HasPrefix(rest[last+1:], "HTTP/") {
		path, proto = rest[:last], rest[last+1:]
	} else {
		path = rest
	}
	if path == "" {
		return "", "", "", false
	}
	return method, path, proto, true
}

// splitHostPort splits "name:port" when the part after the last colon is
// a number and the name is not a bare IPv6 address.
func splitHostPort(v string) (string, string) {
	c := strings.LastIndexByte(v, ':')
	if c <= 0 || c == len(v)-1 || !allDigits(v[c+1:]) {
		return v, ""
	}
	name := v[:c]
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		return name[1 : len(name)-1], v[c+1:]
	}
	if strings.IndexByte(name, ':') >= 0 {
		return v, "" // 2001:db8::1 — the last group is not a port
	}
	return name, v[c+1:]
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// parseCLFTime reads "dd/Mon/yyyy:hh:mm:ss[.frac] ±hhmm]" at s[i:] and
// returns the index after ']'.
func parseCLFTime(s string, i int, loc *time.Location) (time.Time, int, bool) {
	dd, ok1 := atoiN(s, i, 2)
	mon := monthOf(s, i+3)
	year, ok2 := atoiN(s, i+7, 4)
	if !ok1 || !ok2 || mon == 0 || s[i+2] != '/' || s[i+6] != '/' || i+11 >= len(s) || s[i+11] != ':' {
		return time.Time{}, 0, false
	}
	i += 12
	hh, ok1 := atoiN(s, i, 2)
	mm, ok2 := atoiN(s, i+3, 2)
	ss, ok3 := atoiN(s, i+6, 2)
	if !ok1 || !ok2 || !ok3 || s[i+2] != ':' || s[i+5] != ':' || dd < 1 || dd > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, 0, false
	}
	i += 8
	nsec := 0
	if i+1 < len(s) && s[i] == '.' {
		if nsec, i = parseFrac(s, i+1); i < 0 {
			return time.Time{}, 0, false
		}
	}
	if i+7 > len(s) || s[i] != ' ' || (s[i+1] != '+' && s[i+1] != '-') || s[i+6] != ']' {
		return time.Time{}, 0, false
	}
	oh, ok1 := atoiN(s, i+2, 2)
	om, ok2 := atoiN(s, i+4, 2)
	if !ok1 || !ok2 || oh > 23 || om > 59 {
		return time.Time{}, 0, false
	}
	off := oh*3600 + om*60
	if s[i+1] == '-' {
		off = -off
	}
	return zoned(year, int(mon), dd, hh, mm, ss, nsec, off, loc), i + 7, true
}

// quotedAt reads the double-quoted string at s[i] (s[i] == '"') and
// returns its unescaped value and the index after the closing quote.
func quotedAt(s string, i int) (val string, next int, ok bool) {
	start := i + 1
	// Fast path: the next quote with no backslash before it, found with
	// the vectorised IndexByte; most fields have no escapes.
	if q := strings.IndexByte(s[start:], '"'); q >= 0 && strings.IndexByte(s[start:start+q], '\\') < 0 {
		return s[start : start+q], start + q + 1, true
	}
	escaped := false
	j := start
	for j < len(s) {
		c := s[j]
		if c == '"' {
			break
		}
		if c == '\\' {
			escaped = true
			j++
		}
		j++
	}
	if j >= len(s) {
		return "", 0, false
	}
	val = s[start:j]
	if escaped {
		val = unescapeQuoted(val)
	}
	return val, j + 1, true
}

// unescapeQuoted undoes \" and \\ (Apache, nginx escape=json) and the
// \x22 and \x5C nginx writes by default for the same two bytes. Other
// \xHH escapes are kept as written: they stand for control and non-ASCII
// bytes, which are safer left escaped than restored.
func unescapeQuoted(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' || i+1 >= len(v) {
			b.WriteByte(c)
			continue
		}
		switch v[i+1] {
		case '"', '\\':
			b.WriteByte(v[i+1])
			i++
			continue
		case 'x':
			if i+3 < len(v) {
				switch strings.ToLower(v[i+2 : i+4]) {
				case "22":
					b.WriteByte('"')
					i += 3
					continue
				case "5c":
					b.WriteByte('\\')
					i += 3
					continue
				}
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}
