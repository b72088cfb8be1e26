package logparse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goldenLines returns the input lines of testdata/<dir>/*.log, as fuzz
// seeds.
func goldenLines(t testing.TB, dirs ...string) []string {
	var lines []string
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join("testdata", d, "*.log"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(string(b), "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					lines = append(lines, l)
				}
			}
		}
	}
	return lines
}

func TestAccessFields(t *testing.T) {
	loc := berlin(t)
	tests := []struct {
		format, line string
		want         map[string]string
	}{
		{"combined", `2001:db8::1 - - [22/Nov/2026:10:00:00 +0100] "GET /x HTTP/1.1" 404 0 "-" "a \"b\" c"`,
			map[string]string{"client": "2001:db8::1", "status": "404", "user_agent": `a "b" c`, "bytes": "0"}},
		{"combined", `192.0.2.1 - - [22/Nov/2026:10:00:00 +0100] "GET /x HTTP/1.1" 200 5 "-" "a \x22b\x22 \\ c"`,
			map[string]string{"user_agent": `a "b" \ c`}},
		{"vhost_combined", `h.example:8080 192.0.2.1 - u [22/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 5 "r" "a"`,
			map[string]string{"vhost": "h.example", "server_port": "8080", "user": "u", "referer": "r"}},
		{"", `192.0.2.1 - - [22/Nov/2026:10:00:00 -0000] "OPTIONS * HTTP/1.0" 200 -`,
			map[string]string{"method": "OPTIONS", "path": "*", "bytes": "0"}},
	}
	for _, tt := range tests {
		ev := Parse(tt.format, []byte(tt.line), testNow, loc)
		if ev.Time.IsZero() || ev.Message != tt.line {
			t.Errorf("%s: time %v, message %q", tt.line, ev.Time, ev.Message)
		}
		for k, v := range tt.want {
			if got, _ := ev.Field(k); got != v {
				t.Errorf("%s: %s = %q, want %q", tt.line, k, got, v)
			}
		}
	}
}

func TestAccessTimeZone(t *testing.T) {
	loc := berlin(t)
	ev := Parse("combined", []byte(`192.0.2.1 - - [31/Dec/2026:23:30:00 -0500] "GET / HTTP/1.1" 200 1 "-" "-"`), testNow, loc)
	if want := time.Date(2027, 1, 1, 4, 30, 0, 0, time.UTC); !ev.Time.Equal(want) {
		t.Fatalf("time %v, want %v", ev.Time, want)
	}
	if _, off := ev.Time.Zone(); off != -5*3600 {
		t.Fatalf("zone offset %d, want -5h: the line's own zone is kept", off)
	}
}

func FuzzParseAccess(f *testing.F) {
	for _, l := range goldenLines(f, "combined", "common", "vhost_combined") {
		f.Add(l)
	}
	for _, l := range []string{"a [", "a b c [01/Jan/2026:00:00:00 +0000]", `a b c [01/Jan/2026:00:00:00 +0000] "`,
		`a b c [01/Jan/2026:00:00:00 +0000] "\`, `a b c [01/Jan/2026:00:00:00 +0000] "x" 200 1 "\x`, " [1"} {
		f.Add(l)
	}
	loc := berlin(f)
	f.Fuzz(func(t *testing.T, line string) {
		for _, mode := range []accessMode{accessAuto, accessCLF, accessVhost} {
			ev, err := parseAccess(line, loc, mode)
			if err != nil {
				continue
			}
			if ev.Message != line || ev.Time.IsZero() {
				t.Fatalf("%q: accepted without message or time: %+v", line, ev)
			}
			st, _ := ev.Field("status")
			if len(st) != 3 || !allDigits(st) {
				t.Fatalf("%q: status %q", line, st)
			}
		}
	})
}

// TestFormatAllocs guards the hot path of the new formats: the line as a
// string and one field slice, and nothing for a line no parser takes.
func TestFormatAllocs(t *testing.T) {
	loc := berlin(t)
	for _, tc := range []struct {
		format, line string
		max          float64
	}{
		{"combined", `2001:db8::1 - - [22/Nov/2026:10:00:00 +0100] "GET /wiki/Main_Page HTTP/1.1" 200 5123 "https://www.example.org/" "Mozilla/5.0 (X11)"`, 2},
		{"", `2001:db8::1 - - [22/Nov/2026:10:00:00 +0100] "GET /wiki/Main_Page HTTP/1.1" 200 5123 "https://www.example.org/" "Mozilla/5.0 (X11)"`, 2},
		{"vhost_combined", `www.example.org:443 192.0.2.1 - - [22/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "curl/8"`, 2},
		{"nginx_error", `2026/11/22 10:00:00 [error] 1#1: *5 open() failed, client: 192.0.2.1, server: x, request: "GET / HTTP/1.1", host: "x"`, 2},
		{"apache_error", `[Sun Nov 22 10:00:00.123456 2026] [core:error] [pid 1:tid 2] [client 192.0.2.1:5678] AH00126: Invalid URI`, 2},
		{"logfmt", `time=2026-11-22T10:00:00Z level=info msg="request done" status=200`, 2},
		{"json", `{"time":"2026-11-22T10:00:00Z","level":"info","msg":"done","status":200}`, 2},
		{"", `just some text [with brackets] and a=b pairs`, 1},
	} {
		b := []byte(tc.line)
		if n := testing.AllocsPerRun(100, func() { Parse(tc.format, b, testNow, loc) }); n > tc.max {
			t.Errorf("%s %q: %v allocations, want ≤ %v", tc.format, tc.line, n, tc.max)
		}
	}
}
