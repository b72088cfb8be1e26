package logparse

import (
	"testing"
	"time"
)

func TestEnrichMessage(t *testing.T) {
	tests := []struct {
		prog, msg string
		want      map[string]string
	}{
		{"sshd", "Failed password for invalid user a b from ::1 port 22 ssh2", map[string]string{"action": "failed", "user": "a b", "client": "::1", "port": "22", "user_invalid": "true"}},
		{"sshd", "Accepted publickey for root from 192.0.2.1 port 1 ssh2: ED25519 SHA256:x from 1.2.3.4 port 5", map[string]string{"client": "192.0.2.1", "port": "1"}},
		{"sudo", "alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/echo a ; b", map[string]string{"user": "alice", "run_as": "root", "command": "/bin/echo a ; b"}},
		{"postfix/smtp", "ABC123: to=<a@b>, status=bounced (host said: 550 no (such) user)", map[string]string{"queue_id": "ABC123", "to": "a@b", "status": "bounced", "response": "host said: 550 no (such) user"}},
		{"kernel", "Out of memory: Killed process 1 (a b)", map[string]string{"event": "oom_kill", "pid": "1", "process": "a b"}},
		{"nginx", `192.0.2.1 - - [22/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "-"`, map[string]string{"client": "192.0.2.1", "status": "200"}},
	}
	for _, tt := range tests {
		ev := NewEvent()
		ev.Program, ev.Message = tt.prog, tt.msg
		EnrichMessage(&ev)
		for k, v := range tt.want {
			if got, _ := ev.Field(k); got != v {
				t.Errorf("%s %q: %s = %q, want %q (fields %v)", tt.prog, tt.msg, k, got, v, ev.Fields)
			}
		}
	}
}

// TestEnrichAllSyslogPaths checks that the message parsers run whichever
// door a syslog line comes through.
func TestEnrichAllSyslogPaths(t *testing.T) {
	loc := berlin(t)
	line := []byte("<38>Nov 22 10:00:00 web1 sshd[1]: Failed password for root from 192.0.2.9 port 22 ssh2")
	l5424 := []byte("<38>1 2026-11-22T10:00:00Z web1 sshd 1 - - Failed password for root from 192.0.2.9 port 22 ssh2")
	evs := []Event{Parse("", line, testNow, loc), Parse("syslog", line, testNow, loc), Parse("rfc3164", line, testNow, loc),
		Parse("journal", line, testNow, loc), Parse("rfc5424", l5424, testNow, loc)}
	for _, f := range []func([]byte, time.Time, *time.Location) (Event, error){ParseSyslog, ParseRFC3164} {
		ev, err := f(line, testNow, loc)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	ev, err := ParseRFC5424(l5424, testNow, loc)
	if err != nil {
		t.Fatal(err)
	}
	evs = append(evs, ev)
	for i, ev := range evs {
		if a, _ := ev.Field("action"); a != "failed" {
			t.Errorf("path %d: no sshd fields: %+v", i, ev)
		}
	}
}

// TestEnrichAllocs: the message parsers add one allocation, the field
// slice, and none for programs they do not know.
func TestEnrichAllocs(t *testing.T) {
	loc := berlin(t)
	for line, max := range map[string]float64{
		"<86>Nov 22 12:59:01 web1 sshd[4242]: Accepted publickey for deploy from 192.0.2.7 port 50522 ssh2":                             2,
		"Nov 22 12:59:01 mail postfix/smtp[1]: 4F2A81234: to=<a@b>, relay=mx[192.0.2.1]:25, delay=1.2, dsn=2.0.0, status=sent (250 ok)": 2,
		"Nov 22 12:59:01 web1 sudo[1]: alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/true":                                       2,
		"Nov 22 12:59:01 web1 cron[1]: (root) CMD (run-parts /etc/cron.hourly)":                                                         1,
	} {
		b := []byte(line)
		if n := testing.AllocsPerRun(100, func() { Parse("", b, testNow, loc) }); n > max {
			t.Errorf("%q: %v allocations, want ≤ %v", line, n, max)
		}
	}
}

func FuzzEnrich(f *testing.F) {
	for _, l := range goldenLines(f, "sshd", "sudo", "postfix", "kernel") {
		ev, err := ParseSyslog([]byte(l), testNow, time.UTC)
		if err == nil {
			f.Add(ev.Program, ev.Message)
		}
	}
	for _, p := range []string{"sshd", "sudo", "postfix/smtp", "kernel", "nginx"} {
		for _, m := range []string{"Accepted ", "Invalid user ", " port ", "x : ", "A1: to=<", "A1: status=x (", "[", "Kill", "]: segfault at ",
			"Disconnected from user  port 1", "Received disconnect from a port 1:", "NOQUEUE: reject: RCPT from a[", "a[1]: segfault at "} {
			f.Add(p, m)
		}
	}
	f.Fuzz(func(t *testing.T, prog, msg string) {
		ev := NewEvent()
		ev.Program, ev.Message = prog, msg
		enrich(&ev) // not EnrichMessage: a panic must fail the fuzzer
		for _, fl := range ev.Fields {
			if fl.Key == "" {
				t.Fatalf("%s %q: empty key in %v", prog, msg, ev.Fields)
			}
		}
	})
}
