package logparse

import "strings"

// parsePostfix reads the postfix daemons' lines (postfix/smtp, qmgr,
// smtpd, cleanup, local ...):
//
//	4F2A81234: to=<a@example.org>, relay=mx.example.net[192.0.2.25]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok)
//	4F2A81234: from=<b@example.org>, size=1234, nrcpt=1 (queue active)
//	4F2A81234: client=mail.example.net[2001:db8::25]
//	NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@b> to=<x@example.org> proto=ESMTP helo=<h>
//	connect from unknown[192.0.2.9]
//
// into queue_id, from, to, orig_to, relay, delay, dsn, status, response
// (the text in parentheses after status), size, nrcpt, message_id,
// client (the address) and client_host (the name before it), proto,
// helo and action (reject, connect, disconnect).
func parsePostfix(m string, f []Field) []Field {
	rest := m
	if c := strings.Index(m, ": "); c >= 5 && c <= 20 && isQueueID(m[:c]) {
		f = append(grow(f, 8), Field{"queue_id", m[:c]})
		rest = m[c+2:]
	}
	switch {
	case strings.HasPrefix(rest, "reject: "), strings.HasPrefix(rest, "warning: "), strings.HasPrefix(rest, "discard: "), strings.HasPrefix(rest, "hold: "):
		c := strings.IndexByte(rest, ':')
		f = append(grow(f, 6), Field{"action", rest[:c]})
		if a, h, ok := bracketClient(rest); ok {
			f = appendSet(f, "client_host", h)
			f = append(f, Field{"client", a})
		}
	case strings.HasPrefix(rest, "connect from "), strings.HasPrefix(rest, "disconnect from "), strings.HasPrefix(rest, "lost connection after "):
		action := "connect"
		if rest[0] == 'd' {
			action = "disconnect"
		} else if rest[0] == 'l' {
			action = "lost_connection"
		}
		if a, h, ok := bracketClient(rest); ok {
			f = append(grow(f, 3), Field{"action", action})
			f = appendSet(f, "client_host", h)
			f = append(f, Field{"client", a})
		}
		return f
	}
	// key=value pairs, separated by ", " (smtp, qmgr) or " " (reject).
	for i := 0; i < len(rest); {
		eq := strings.IndexByte(rest[i:], '=')
		if eq <= 0 {
			break
		}
		eq += i
		ks := strings.LastIndexAny(rest[i:eq], " ,") + i + 1
		key := rest[ks:eq]
		v := eq + 1
		var val string
		if v < len(rest) && rest[v] == '<' {
			e := strings.IndexByte(rest[v:], '>')
			if e < 0 {
				break
			}
			val, i = rest[v+1:v+e], v+e+1
		} else {
			e := strings.IndexAny(rest[v:], " ,")
			if e < 0 {
				e = len(rest) - v
			}
			val, i = rest[v:v+e], v+e
		}
		switch key {
		case "to", "from", "orig_to", "relay", "delay", "dsn", "size", "nrcpt", "proto", "helo", "sasl_method", "sasl_username":
			f = append(grow(f, 4), Field{key, val})
		case "message-id":
			f = append(grow(f, 1), Field{"message_id", val})
		case "client":
			if a, h, ok := bracketClient(val); ok {
				f = appendSet(grow(f, 2), "client_host", h)
				f = append(f, Field{"client", a})
			}
		case "status":
			f = append(grow(f, 2), Field{"status", val})
			if i+2 < len(rest) && rest[i] == ' ' && rest[i+1] == '(' {
				if e := strings.LastIndexByte(rest, ')'); e > i+2 {
					f = append(f, Field{"response", rest[i+2 : e]})
					i = e + 1
				}
			}
		}
	}
	return f
}

// isQueueID accepts postfix's short (hex) and long (base-52 + 'z'
// separated) queue ids and NOQUEUE. An all-lowercase word is a daemon's
// "warning:" or "fatal:", not a queue id.
func isQueueID(s string) bool {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c), c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
		default:
			return false
		}
	}
	return upper
}

// bracketClient finds "name[addr]" after " from " (or at the start of s)
// and returns addr and name; "unknown" names are dropped.
func bracketClient(s string) (addr, host string, ok bool) {
	if fr := strings.Index(s, " from "); fr >= 0 {
		s = s[fr+6:]
	}
	b := strings.IndexByte(s, '[')
	if b < 0 {
		return "", "", false
	}
	e := strings.IndexByte(s[b:], ']')
	if e < 0 {
		return "", "", false
	}
	host = s[:b]
	if sp := strings.LastIndexAny(host, " ,="); sp >= 0 {
		host = host[sp+1:]
	}
	if host == "unknown" {
		host = ""
	}
	return s[b+1 : b+e], host, true
}
