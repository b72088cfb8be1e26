package logparse

import (
	"net/netip"
	"strings"
	"time"
)

var (
	errNginxError  = &SyntaxError{"nginx_error", "not an nginx error log line"}
	errApacheError = &SyntaxError{"apache_error", "not an Apache error log line"}
)

// severityOf maps the level words of nginx, Apache and common libraries
// to RFC 5424 severities.
func severityOf(w string) int {
	if len(w) > 5 && (w[:5] == "trace" || w[:5] == "TRACE") {
		return 7 // Apache's trace1..trace8
	}
	switch strings.ToLower(w) {
	case "emerg", "emergency", "panic":
		return 0
	case "alert", "fatal":
		return 1
	case "crit", "critical":
		return 2
	case "error", "err", "eror":
		return 3
	case "warn", "warning":
		return 4
	case "notice":
		return 5
	case "info", "information", "informational":
		return 6
	case "debug", "trace", "dbug":
		return 7
	}
	return Unknown
}

// parseNginxError reads nginx's error_log:
//
//	2026/11/22 10:00:00 [error] 123#0: *5 open() "/x" failed (2: No such file or directory), client: 192.0.2.1, server: x, request: "GET /x HTTP/1.1", host: "x"
//
// The time is local time of the writing host (loc). PID is the worker's,
// the thread id and connection number become fields "tid" and
// "connection", and the ", key: value" context nginx appends becomes
// fields (client, server, request, upstream, host, referrer ...), so that
// Message is the error alone.
func parseNginxError(s string, _ time.Time, loc *time.Location) (Event, error) {
	ev := NewEvent()
	year, ok1 := atoiN(s, 0, 4)
	mon, ok2 := atoiN(s, 5, 2)
	dd, ok3 := atoiN(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || s[4] != '/' || s[7] != '/' || len(s) < 22 || s[10] != ' ' {
		return ev, errNginxError
	}
	hh, ok1 := atoiN(s, 11, 2)
	mm, ok2 := atoiN(s, 14, 2)
	ss, ok3 := atoiN(s, 17, 2)
	if !ok1 || !ok2 || !ok3 || s[13] != ':' || s[16] != ':' || s[19] != ' ' || s[20] != '[' ||
		mon < 1 || mon > 12 || dd < 1 || dd > 31 || hh > 23 || mm > 59 || ss > 60 {
		return ev, errNginxError
	}
	end := strings.IndexByte(s[21:], ']')
	if end <= 0 {
		return ev, errNginxError
	}
	ev.Severity = severityOf(s[21 : 21+end])
	if ev.Severity == Unknown {
		return ev, errNginxError
	}
	ev.Time = time.Date(year, time.Month(mon), dd, hh, mm, ss, 0, loc)
	ev.Program = "nginx"
	i := 21 + end + 1
	if i < len(s) && s[i] == ' ' {
		i++
	}
	var f []Field
	// "123#0: " — pid#tid
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j > i && j < len(s) && s[j] == '#' {
		ev.PID = s[i:j]
		k := j + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k+1 < len(s) && s[k] == ':' && s[k+1] == ' ' {
			f = make([]Field, 0, 8)
			f = append(f, Field{"tid", s[j+1 : k]})
			i = k + 2
		} else {
			ev.PID = ""
		}
	}
	// "*5 " — the connection number
	if i < len(s) && s[i] == '*' {
		k := i + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k > i+1 && k < len(s) && s[k] == ' ' {
			if f == nil {
				f = make([]Field, 0, 8)
			}
			f = append(f, Field{"connection", s[i+1 : k]})
			i = k + 1
		}
	}
	msg := s[i:]
	if c := strings.Index(msg, ", client: "); c >= 0 {
		if f == nil {
			f = make([]Field, 0, 8)
		}
		f = nginxContext(msg[c+2:], f)
		msg = msg[:c]
	}
	ev.Message = msg
	ev.Fields = f
	return ev, nil
}

// nginxContext reads `key: value, key: "quoted", ...`.
func nginxContext(s string, f []Field) []Field {
	for s != "" {
		colon := strings.Index(s, ": ")
		if colon <= 0 {
			return f
		}
		key := s[:colon]
		for k := 0; k < len(key); k++ {
			if c := key[k]; !(c >= 'a' && c <= 'z' || c == '_') {
				return f
			}
		}
		s = s[colon+2:]
		var val string
		if s != "" && s[0] == '"' {
			v, next, ok := quotedAt(s, 0)
			if !ok {
				return append(f, Field{key, s})
			}
			val, s = v, s[next:]
		} else {
			c := strings.Index(s, ", ")
			if c < 0 {
				c = len(s)
			}
			val, s = s[:c], s[c:]
		}
		f = append(f, Field{key, val})
		if !strings.HasPrefix(s, ", ") {
			return f
		}
		s = s[2:]
	}
	return f
}

// parseApacheError reads Apache httpd's error log, 2.4 and 2.2 forms:
//
//	[Sun Nov 22 10:00:00.123456 2026] [core:error] [pid 123:tid 456] [client 192.0.2.1:5678] AH00126: Invalid URI in request GET /%2e HTTP/1.1
//	[Sun Nov 22 10:00:00 2026] [error] [client 192.0.2.1] File does not exist: /var/www/favicon.ico
//
// The time is local time of the writing host (loc). Fields: module, tid,
// client and client_port, remote (the proxy peer, mod_remoteip), code
// (the AHnnnnn message number) and referer (appended by Apache when the
// request had one); Message is the text after the code.
func parseApacheError(s string, _ time.Time, loc *time.Location) (Event, error) {
	ev := NewEvent()
	// "[Www Mmm dd hh:mm:ss[.frac] yyyy]"
	if len(s) < 26 || s[0] != '[' || s[4] != ' ' || s[8] != ' ' {
		return ev, errApacheError
	}
	mon := monthOf(s, 5)
	if mon == 0 {
		return ev, errApacheError
	}
	i := 9
	if s[i] == ' ' {
		i++
	}
	dd := 0
	start := i
	for i < len(s) && i-start < 2 && isDigit(s[i]) {
		dd = dd*10 + int(s[i]-'0')
		i++
	}
	hh, ok1 := atoiN(s, i+1, 2)
	mm, ok2 := atoiN(s, i+4, 2)
	ss, ok3 := atoiN(s, i+7, 2)
	if i == start || !ok1 || !ok2 || !ok3 || s[i] != ' ' || s[i+3] != ':' || s[i+6] != ':' ||
		dd < 1 || dd > 31 || hh > 23 || mm > 59 || ss > 60 {
		return ev, errApacheError
	}
	i += 9
	nsec := 0
	if i < len(s) && s[i] == '.' {
		if nsec, i = parseFrac(s, i+1); i < 0 {
			return ev, errApacheError
		}
	}
	year, ok := atoiN(s, i+1, 4)
	if !ok || s[i] != ' ' || i+5 >= len(s) || s[i+5] != ']' {
		return ev, errApacheError
	}
	i += 6
	ev.Time = time.Date(year, mon, dd, hh, mm, ss, nsec, loc)
	ev.Program = "apache2"

	// "[module:level]" or 2.2's "[level]" must come next.
	if i+2 >= len(s) || s[i] != ' ' || s[i+1] != '[' {
		return ev, errApacheError
	}
	end := strings.IndexByte(s[i+2:], ']')
	if end <= 0 {
		return ev, errApacheError
	}
	ml := s[i+2 : i+2+end]
	i += 2 + end + 1
	f := make([]Field, 0, 8)
	level := ml
	if c := strings.IndexByte(ml, ':'); c >= 0 {
		level = ml[c+1:]
		if c > 0 {
			f = append(f, Field{"module", ml[:c]})
		}
	}
	if ev.Severity = severityOf(level); ev.Severity == Unknown {
		return ev, errApacheError
	}
	for i+1 < len(s) && s[i] == ' ' && s[i+1] == '[' {
		end := strings.IndexByte(s[i+2:], ']')
		if end < 0 {
			break
		}
		b := s[i+2 : i+2+end]
		switch {
		case strings.HasPrefix(b, "pid "):
			pid, tid, _ := strings.Cut(b[4:], ":tid ")
			ev.PID = pid
			if tid != "" {
				f = append(f, Field{"tid", tid})
			}
		case strings.HasPrefix(b, "client "):
			addr, port := splitAddrPort(b[7:])
			f = append(f, Field{"client", addr})
			if port != "" {
				f = append(f, Field{"client_port", port})
			}
		case strings.HasPrefix(b, "remote "):
			addr, _ := splitAddrPort(b[7:])
			f = append(f, Field{"remote", addr})
		default:
			goto text
		}
		i += 2 + end + 1
	}
text:
	if i < len(s) && s[i] == ' ' {
		i++
	}
	msg := s[i:]
	// "AH00126: " — the message number of httpd 2.4.
	if len(msg) > 9 && msg[0] == 'A' && msg[1] == 'H' && msg[7] == ':' && msg[8] == ' ' && allDigits(msg[2:7]) {
		f = append(f, Field{"code", msg[:7]})
		msg = msg[9:]
	}
	if r := strings.LastIndex(msg, ", referer: "); r >= 0 {
		f = append(f, Field{"referer", msg[r+11:]})
		msg = msg[:r]
	}
	ev.Message = msg
	ev.Fields = f
	return ev, nil
}

// splitAddrPort splits "192.0.2.1:5678", "2001:db8::1:5678" (Apache
// writes IPv6 without brackets) and "[2001:db8::1]:5678"; an address
// without a port comes back whole.
func splitAddrPort(v string) (string, string) {
	if strings.HasPrefix(v, "[") {
		if e := strings.IndexByte(v, ']'); e > 0 {
			if e+1 < len(v) && v[e+1] == ':' {
				return v[1:e], v[e+2:]
			}
			return v[1:e], ""
		}
	}
	c := strings.LastIndexByte(v, ':')
	if c <= 0 || !allDigits(v[c+1:]) {
		return v, ""
	}
	if strings.IndexByte(v[:c], ':') < 0 {
		return v[:c], v[c+1:]
	}
	// IPv6: the last group is a port only if what precedes it is still an
	// address ("2001:db8::1" alone must not lose its "1").
	if a, err := netip.ParseAddr(v[:c]); err == nil && a.Is6() {
		return v[:c], v[c+1:]
	}
	return v, ""
}
