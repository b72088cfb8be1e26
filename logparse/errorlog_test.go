package logparse

import (
	"testing"
)

func TestSplitAddrPort(t *testing.T) {
	for _, tt := range []struct{ in, addr, port string }{
		{"192.0.2.1:80", "192.0.2.1", "80"},
		{"192.0.2.1", "192.0.2.1", ""},
		{"2001:db8::1:5678", "2001:db8::1", "5678"},
		{"2001:db8::1", "2001:db8::1", ""},
		{"[2001:db8::1]:443", "2001:db8::1", "443"},
		{"::1:5678", "::1", "5678"},
		{"host.example:22", "host.example", "22"},
	} {
		if a, p := splitAddrPort(tt.in); a != tt.addr || p != tt.port {
			t.Errorf("splitAddrPort(%q) = %q, %q; want %q, %q", tt.in, a, p, tt.addr, tt.port)
		}
	}
}

func TestSeverityOf(t *testing.T) {
	for w, want := range map[string]int{"emerg": 0, "alert": 1, "crit": 2, "error": 3, "warn": 4, "WARNING": 4,
		"notice": 5, "info": 6, "debug": 7, "trace8": 7, "loud": Unknown, "": Unknown} {
		if got := severityOf(w); got != want {
			t.Errorf("severityOf(%q) = %d, want %d", w, got, want)
		}
	}
}

func FuzzParseErrorLog(f *testing.F) {
	for _, l := range goldenLines(f, "nginx_error", "apache_error") {
		f.Add(l)
	}
	for _, l := range []string{"2026/11/22 10:00:00 [error] ", "2026/11/22 10:00:00 [error] 1#", "2026/11/22 10:00:00 [error] *",
		"[Sun Nov 22 10:00:00.1 2026] [x:error]", "[Sun Nov 22 10:00:00 2026] [error] [client ]", "[Sun Nov  2 10:00:00 2026] [error] AH00001: ",
		"x, client: a, b: \"", "2026/11/22 10:00:00 [warn] 1#2: *3 m, client: a, request: \"x"} {
		f.Add(l)
	}
	loc := berlin(f)
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range []parseFunc{parseNginxError, parseApacheError} {
			ev, err := p(line, testNow, loc)
			if err != nil {
				continue
			}
			if ev.Time.IsZero() || ev.Severity < 0 || ev.Severity > 7 {
				t.Fatalf("%q: accepted without time or severity: %+v", line, ev)
			}
		}
	})
}
