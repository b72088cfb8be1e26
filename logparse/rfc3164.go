package logparse

import (
	"net/netip"
	"strings"
	"time"
)

var (
	errBadPRI       = &SyntaxError{"syslog", "bad <PRI>"}
	errNoTimestamp  = &SyntaxError{"rfc3164", "no timestamp"}
	errNoHeaderRest = &SyntaxError{"rfc3164", "nothing after the timestamp"}
)

// ParseRFC3164 parses a BSD syslog line: "<PRI>Mmm dd hh:mm:ss host
// tag[pid]: msg" as rsyslog forwards it by default, the same without <PRI>
// as written to /var/log/syslog, and the RFC 3339 or ISO 8601 timestamp
// variants (rsyslog's RSYSLOG_FileFormat and ForwardFormat). Year-less
// timestamps are placed in loc (nil: time.Local) and in the year that keeps
// them at most a month ahead of now. Without <PRI>, Severity and Facility
// stay Unknown. The message parsers of known programs (see EnrichMessage)
// add their fields.
func ParseRFC3164(line []byte, now time.Time, loc *time.Location) (Event, error) {
	if loc == nil {
		loc = time.Local
	}
	return parseRFC3164(string(trimEOL(line)), now, loc)
}

func parseRFC3164(s string, now time.Time, loc *time.Location) (Event, error) {
	ev := NewEvent()
	i := 0
	hasPRI := false
	if len(s) > 0 && s[0] == '<' {
		pri, n, ok := parsePRI(s)
		if !ok {
			return ev, errBadPRI
		}
		ev.Severity, ev.Facility = pri&7, pri>>3
		i, hasPRI = n, true
		i = skipCiscoSeq(s, i)
	}
	if i < len(s) && (s[i] == '*' || s[i] == '.') {
		// Cisco marks unsynchronised clocks with '*' and lost sync with '.'.
		i++
	}
	t, n, ok := parseBSDTime(s, i, now, loc)
	if !ok {
		t, n, ok = parseRFC3339(s, i, loc, true)
	}
	if !ok {
		if !hasPRI {
			return ev, errNoTimestamp
		}
		// Small devices send "<PRI>tag: msg" with no timestamp and no
		// host; the PRI alone is evidence enough that this is syslog.
		ev.Program, ev.PID, ev.Message = splitTagOrMessage(s[i:])
		enrich(&ev)
		return ev, nil
	}
	ev.Time = t
	i = n
	if i < len(s) && s[i] == ':' {
		i++ // Cisco: "hh:mm:ss.mmm: %FAC-SEV-MNEMONIC: ..."
	}
	if i < len(s) && s[i] != ' ' {
		return ev, errNoTimestamp
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) {
		if hasPRI {
			return ev, nil
		}
		return ev, errNoHeaderRest
	}
	rest := s[i:]
	tok := rest
	if sp := strings.IndexByte(rest, ' '); sp >= 0 {
		tok = rest[:sp]
	}
	if !looksLikeTag(tok) {
		ev.Host = tok
		rest = strings.TrimLeft(rest[len(tok):], " ")
	}
	ev.Program, ev.PID, ev.Message = splitTagOrMessage(rest)
	if ev.Message == "" && !hasPRI {
		// "Mmm dd hh:mm:ss word" or "... host tag:" and nothing else:
		// too little to call it syslog, and the event would have no text.
		return ev, errNoHeaderRest
	}
	enrich(&ev)
	return ev, nil
}

// skipCiscoSeq skips the "123: " sequence number Cisco devices put after
// the PRI.
func skipCiscoSeq(s string, i int) int {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j > i && j+1 < len(s) && s[j] == ':' && s[j+1] == ' ' {
		return j + 2
	}
	return i
}

// looksLikeTag reports whether the first word after the timestamp is the
// tag rather than a hostname, i.e. the sender left the hostname out.
func looksLikeTag(tok string) bool {
	if tok == "" {
		return false
	}
	if strings.IndexByte(tok, '[') > 0 && tok[len(tok)-1] == ']' || strings.Contains(tok, "]:") {
		return true
	}
	if tok[len(tok)-1] != ':' {
		return false
	}
	// An IPv6 hostname may end in ':' ("2001:db8::").
	_, err := netip.ParseAddr(tok)
	return err != nil
}

// splitTagOrMessage splits "tag[pid]: msg" or "tag: msg". When the text
// does not start with a tag it is all message.
func splitTagOrMessage(s string) (prog, pid, msg string) {
	j := 0
	for j < len(s) && s[j] != ' ' && s[j] != '[' && s[j] != ':' {
		j++
	}
	if j == 0 || j >= len(s) {
		return "", "", s
	}
	prog = s[:j]
	switch s[j] {
	case ':':
		j++
		if j < len(s) && s[j] != ' ' {
			return "", "", s
		}
	case '[':
		k := j + 1
		for k < len(s) && s[k] != ']' && s[k] != ' ' && k-j <= 32 {
			k++
		}
		if k >= len(s) || s[k] != ']' {
			return "", "", s
		}
		pid = s[j+1 : k]
		j = k + 1
		if j < len(s) && s[j] == ':' {
			j++
		}
		if j < len(s) && s[j] != ' ' {
			return "", "", s
		}
	default: // a space: the first word has no colon, so it is no tag
		return "", "", s
	}
	if j < len(s) && s[j] == ' ' {
		j++
	}
	return prog, pid, s[j:]
}
