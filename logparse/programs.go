package logparse

import (
	"strings"
	"time"
)

// enrich runs the message parser of ev.Program, if there is one, and
// appends what it finds to ev.Fields. Every syslog parse ends here, so
// sshd, sudo, postfix and kernel lines get their fields whichever way they
// arrive (syslog over the network, a file, the journal rendered as a
// syslog line). The dispatch is a switch on the program name so that a
// line from any other program costs one string comparison or two.
func enrich(ev *Event) {
	if ev.Message == "" {
		return
	}
	switch p := ev.Program; p {
	case "sshd", "sshd-session":
		ev.Fields = parseSSHD(ev.Message, ev.Fields)
	case "sudo":
		ev.Fields = parseSudo(ev.Message, ev.Fields)
	case "kernel":
		ev.Fields = parseKernel(ev.Message, ev.Fields)
	case "nginx", "apache2", "httpd", "apache":
		// Access logs sent through syslog (nginx's access_log
		// syslog:server=...) keep the syslog header's time and host.
		loc := time.UTC
		if !ev.Time.IsZero() {
			loc = ev.Time.Location()
		}
		if a, err := parseAccess(ev.Message, loc, accessAuto); err == nil {
			ev.Fields = append(ev.Fields, a.Fields...)
		}
	default:
		if strings.HasPrefix(p, "postfix") {
			ev.Fields = parsePostfix(ev.Message, ev.Fields)
		}
	}
}

// EnrichMessage runs the program-specific message parsers (sshd, sudo,
// postfix, kernel, web servers) on an event whose Program and Message are
// already set, such as one built from a journal entry's own fields. Parse
// and ParseSyslog call it themselves.
func EnrichMessage(ev *Event) {
	defer func() {
		// Fuzzed like the rest; this only keeps one hostile message from
		// taking the caller down.
		_ = recover()
	}()
	enrich(ev)
}

// addrPortTail reads "... ADDR port N" at the end of s (after trimming a
// "[preauth]" or ": more" suffix) and returns the text before ADDR.
func addrPortTail(s string) (before, addr, port string, ok bool) {
	p := strings.LastIndex(s, " port ")
	if p <= 0 {
		return "", "", "", false
	}
	rest := s[p+6:]
	n := 0
	for n < len(rest) && isDigit(rest[n]) {
		n++
	}
	if n == 0 || n > 5 {
		return "", "", "", false
	}
	port = rest[:n]
	head := s[:p]
	sp := strings.LastIndexByte(head, ' ')
	addr = head[sp+1:]
	if addr == "" {
		return "", "", "", false
	}
	if sp < 0 {
		return "", addr, port, true
	}
	return head[:sp], addr, port, true
}

// parseSSHD reads OpenSSH's authentication lines:
//
//	Accepted publickey for deploy from 2001:db8::7 port 50522 ssh2: ED25519 SHA256:...
//	Failed password for invalid user admin from 192.0.2.9 port 4711 ssh2
//	Invalid user admin from 192.0.2.9 port 4711
//	Disconnected from authenticating user root 192.0.2.9 port 4711 [preauth]
//	Connection closed by invalid user oracle 192.0.2.9 port 4711 [preauth]
//
// into action (accepted, failed, invalid_user, disconnected), method,
// user, client and port; user_invalid=true marks a name that has no
// account. User names are taken from between fixed words, so a name an
// attacker chose with spaces in it stays whole.
func parseSSHD(m string, f []Field) []Field {
	var action, method, rest string
	switch {
	case strings.HasPrefix(m, "Accepted "):
		action, rest = "accepted", m[9:]
	case strings.HasPrefix(m, "Failed "):
		action, rest = "failed", m[7:]
	case strings.HasPrefix(m, "Invalid user "):
		before, addr, port, ok := addrPortTail(m[13:])
		if !ok || !strings.HasSuffix(before, " from") && before != "from" {
			return f
		}
		user := strings.TrimSuffix(strings.TrimSuffix(before, "from"), " ")
		return append(grow(f, 5), Field{"action", "invalid_user"}, Field{"user", user},
			Field{"user_invalid", "true"}, Field{"client", addr}, Field{"port", port})
	case strings.HasPrefix(m, "Disconnected from "):
		rest = m[18:]
	case strings.HasPrefix(m, "Connection closed by "):
		rest = m[21:]
	case strings.HasPrefix(m, "Received disconnect from "):
		// "Received disconnect from ADDR port N:11: disconnected by user"
		rest = m[25:]
		p := strings.Index(rest, " port ")
		if p <= 0 || strings.IndexByte(rest[:p], ' ') >= 0 {
			return f
		}
		n := p + 6
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == p+6 || n-p-6 > 5 {
			return f
		}
		return append(grow(f, 3), Field{"action", "disconnected"}, Field{"client", rest[:p]}, Field{"port", rest[p+6 : n]})
	default:
		return f
	}
	if action == "" {
		// Disconnected / closed: "[authenticating |invalid ]user X ADDR port N [preauth]" or "ADDR port N"
		rest = strings.TrimSuffix(rest, " [preauth]")
		before, addr, port, ok := addrPortTail(rest)
		if !ok {
			return f
		}
		f = append(grow(f, 5), Field{"action", "disconnected"})
		invalid := false
		switch {
		case strings.HasPrefix(before, "authenticating user "):
			before = before[20:]
		case strings.HasPrefix(before, "invalid user "):
			before, invalid = before[13:], true
		case strings.HasPrefix(before, "user "):
			before = before[5:]
		case before == "":
		default:
			return f[:len(f)-1]
		}
		if before != "" || invalid {
			f = append(f, Field{"user", before})
		}
		if invalid {
			f = append(f, Field{"user_invalid", "true"})
		}
		return append(f, Field{"client", addr}, Field{"port", port})
	}
	// "METHOD for [invalid user ]USER from ADDR port N ssh2[: ...]"
	sp := strings.Index(rest, " for ")
	if sp <= 0 {
		return f
	}
	method, rest = rest[:sp], rest[sp+5:]
	if strings.IndexByte(method, ' ') >= 0 {
		return f
	}
	if c := strings.LastIndex(rest, " ssh2"); c >= 0 { // the user name comes first and may hold " ssh2"
		rest = rest[:c]
	}
	before, addr, port, ok := addrPortTail(rest)
	if !ok || !strings.HasSuffix(before, " from") {
		return f
	}
	user := before[:len(before)-5]
	invalid := false
	if strings.HasPrefix(user, "invalid user ") {
		user, invalid = user[13:], true
	}
	need := 5
	if invalid {
		need++
	}
	f = append(grow(f, need), Field{"action", action}, Field{"method", method}, Field{"user", user})
	if invalid {
		f = append(f, Field{"user_invalid", "true"})
	}
	return append(f, Field{"client", addr}, Field{"port", port})
}

// grow returns f with room for n more fields, allocating once.
func grow(f []Field, n int) []Field {
	if cap(f)-len(f) >= n {
		return f
	}
	g := make([]Field, len(f), len(f)+n)
	copy(g, f)
	return g
}

// parseSudo reads sudo's command log:
//
//	alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update
//	alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh
//
// into user, tty, pwd, run_as, group, command and, for refusals, reason.
// COMMAND comes last and is taken to the end of the line, " ; " and all.
func parseSudo(m string, f []Field) []Field {
	m = strings.TrimLeft(m, " ") // sudo pads the user name to the right
	c := strings.Index(m, " : ")
	if c <= 0 || strings.IndexByte(m[:c], ' ') >= 0 {
		return f
	}
	user, rest := m[:c], m[c+3:]
	if !strings.Contains(rest, "COMMAND=") && !strings.Contains(rest, "TTY=") {
		return f
	}
	f = append(grow(f, 7), Field{"user", user})
	for rest != "" {
		var part string
		if strings.HasPrefix(rest, "COMMAND=") {
			part, rest = rest, ""
		} else if sc := strings.Index(rest, " ; "); sc >= 0 {
			part, rest = rest[:sc], rest[sc+3:]
		} else {
			part, rest = rest, ""
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			f = append(f, Field{"reason", part})
			continue
		}
		switch k {
		case "TTY":
			f = append(f, Field{"tty", v})
		case "PWD":
			f = append(f, Field{"pwd", v})
		case "USER":
			f = append(f, Field{"run_as", v})
		case "GROUP":
			f = append(f, Field{"group", v})
		case "COMMAND":
			f = append(f, Field{"command", v})
		}
	}
	return f
}

// parseKernel recognises the kernel lines that mean a process died:
//
//	Out of memory: Killed process 4242 (mysqld) total-vm:... (also "Kill process", cgroup OOM)
//	mysqld[4242]: segfault at 0 ip 00007f... sp 00007ffc... error 4 in libc.so.6[...]
//
// into event (oom_kill, segfault), pid and process. A leading "[ 1234.567]"
// uptime stamp (dmesg style) is skipped.
func parseKernel(m string, f []Field) []Field {
	if len(m) > 0 && m[0] == '[' {
		if e := strings.IndexByte(m, ']'); e > 0 && e+1 < len(m) {
			m = strings.TrimLeft(m[e+1:], " ")
		}
	}
	if k := strings.Index(m, "Kill"); k >= 0 && strings.Contains(m[:k], "ut of memory") || strings.HasPrefix(m, "Killed process ") {
		rest := m[strings.Index(m, "Kill"):]
		sp := strings.Index(rest, "process ")
		if sp < 0 {
			return f
		}
		rest = rest[sp+8:]
		n := 0
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 0 {
			return f
		}
		f = append(grow(f, 3), Field{"event", "oom_kill"}, Field{"pid", rest[:n]})
		if n+2 < len(rest) && rest[n] == ' ' && rest[n+1] == '(' {
			if e := strings.IndexByte(rest[n+2:], ')'); e > 0 {
				f = append(f, Field{"process", rest[n+2 : n+2+e]})
			}
		}
		return f
	}
	if sg := strings.Index(m, "]: segfault at "); sg > 0 {
		head := m[:sg]
		br := strings.LastIndexByte(head, '[')
		if br <= 0 || !allDigits(head[br+1:]) {
			return f
		}
		proc := head[:br]
		if sp := strings.LastIndexByte(proc, ' '); sp >= 0 {
			proc = proc[sp+1:]
		}
		return append(grow(f, 3), Field{"event", "segfault"}, Field{"pid", head[br+1:]}, Field{"process", proc})
	}
	return f
}
