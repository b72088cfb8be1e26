package logparse

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestParseEntryPoint(t *testing.T) {
	loc := berlin(t)
	tests := []struct {
		name, format, line string
		wantProg, wantMsg  string
		wantSev            int
		wantTime           bool
	}{
		{"auto 3164", "auto", "<13>Nov 22 10:00:00 h app: m", "app", "m", 5, true},
		{"empty format detects", "", "<13>1 - h app - - - m", "app", "m", 5, false},
		{"unknown format detects", "nonsense", "<13>Nov 22 10:00:00 h app: m", "app", "m", 5, true},
		{"forced combined on a syslog line", "combined", "<13>Nov 22 10:00:00 h app: m", "", "<13>Nov 22 10:00:00 h app: m", Unknown, false},
		{"journal is syslog", "journal", "Nov 22 10:00:00 h app[1]: m", "app", "m", Unknown, true},
		{"forced 5424 on a 3164 line", "rfc5424", "<13>Nov 22 10:00:00 h app: m", "", "<13>Nov 22 10:00:00 h app: m", Unknown, false},
		{"forced 3164 reads 5424 as text after PRI", "rfc3164", "<13>1 - h app - - - m", "", "1 - h app - - - m", 5, false},
		{"not syslog", "auto", "GET / HTTP/1.1", "", "GET / HTTP/1.1", Unknown, false},
		{"empty line", "auto", "", "", "", Unknown, false},
		{"CRLF and NUL trimmed", "syslog", "<13>Nov 22 10:00:00 h app: m\r\n\x00", "app", "m", 5, true},
		{"control chars kept in message", "syslog", "<13>Nov 22 10:00:00 h app: a\x1b[31mb", "app", "a\x1b[31mb", 5, true},
		{"invalid utf-8 kept", "syslog", "<13>Nov 22 10:00:00 h app: \xff\xfe", "app", "\xff\xfe", 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := Parse(tt.format, []byte(tt.line), testNow, loc)
			if ev.Program != tt.wantProg || ev.Message != tt.wantMsg || ev.Severity != tt.wantSev || ev.Time.IsZero() == tt.wantTime {
				t.Errorf("Parse(%q, %q) = %+v", tt.format, tt.line, ev)
			}
		})
	}
}

func TestNilLocation(t *testing.T) {
	for _, f := range []func([]byte, time.Time, *time.Location) (Event, error){ParseSyslog, ParseRFC3164, ParseRFC5424} {
		_, _ = f([]byte("<13>Nov 22 10:00:00 h app: m"), testNow, nil)
		_, _ = f([]byte("<13>1 2026-11-22T10:00:00+01:00 h app - - - m"), testNow, nil)
	}
	if ev := Parse("", []byte("Nov 22 10:00:00 h app: m"), testNow, nil); ev.Time.Location() != time.Local {
		t.Errorf("nil loc: got %v, want time.Local", ev.Time.Location())
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := ParseRFC5424([]byte("<13>1 x"), testNow, time.UTC)
	var se *SyntaxError
	if !errors.Is(err, ErrSyntax) || !errors.As(err, &se) || se.Format != "rfc5424" {
		t.Fatalf("err = %v, want an rfc5424 SyntaxError matching ErrSyntax", err)
	}
}

func TestInferYear(t *testing.T) {
	utc := time.UTC
	tests := []struct {
		now  string
		mon  time.Month
		day  int
		want int
	}{
		{"2027-01-01T00:05:00Z", time.December, 31, 2026},
		{"2026-12-31T23:00:00Z", time.January, 1, 2027},
		{"2026-12-31T23:00:00Z", time.January, 31, 2027},
		{"2026-12-01T00:00:00Z", time.January, 1, 2026}, // 11 months back, not a month ahead
		{"2026-06-15T00:00:00Z", time.July, 15, 2026},
		{"2026-06-15T00:00:00Z", time.July, 17, 2025},
		{"2026-06-15T00:00:00Z", time.June, 14, 2026},
		{"2027-03-01T00:00:00Z", time.February, 29, 2024},
		{"2028-02-01T00:00:00Z", time.February, 29, 2028},
		{"2029-01-10T00:00:00Z", time.February, 29, 2028},
	}
	for _, tt := range tests {
		now, _ := time.Parse(time.RFC3339, tt.now)
		got := inferYear(tt.mon, tt.day, 12, 0, 0, 0, now, utc)
		if got.Year() != tt.want || got.Month() != tt.mon || got.Day() != tt.day {
			t.Errorf("now %s, %s %d: got %s, want year %d", tt.now, tt.mon, tt.day, got, tt.want)
		}
	}
}

func TestFormats(t *testing.T) {
	if got := strings.Join(Formats(), ","); got != "apache_error,combined,common,journal,json,logfmt,nginx_error,rfc3164,rfc5424,syslog,vhost_combined" {
		t.Errorf("Formats() = %s", got)
	}
}

// TestAllocs guards the hot path: a 3164 line costs one allocation (the
// line as a string) and a 5424 line in the local zone without SD no more.
func TestAllocs(t *testing.T) {
	loc := berlin(t)
	for _, line := range []string{
		"<86>Nov 22 12:59:01 web1 sshd[4242]: Accepted publickey for deploy",
		"Nov 22 12:59:01 web1 sshd[4242]: Accepted publickey for deploy",
		"2026-11-22T10:00:00.123456+01:00 web1 prog[12]: file format",
		"<13>1 2026-11-22T10:00:00.123456+01:00 web1 deploy 12 - - no SD",
	} {
		b := []byte(line)
		if n := testing.AllocsPerRun(100, func() { Parse("", b, testNow, loc) }); n > 1 {
			t.Errorf("%q: %v allocations, want ≤ 1", line, n)
		}
	}
}

// seedLines returns the golden inputs, used as fuzz seeds.
func seedLines(t testing.TB) []string {
	files, _ := filepath.Glob("testdata/syslog/*.txt")
	var lines []string
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
	return lines
}

var extraSeeds = []string{
	"", "<", "<1>", "<13>1 ", "<13>1 - - - - - [", "<13>1 - - - - - [a", "<13>1 - - - - - [a b=\"\\",
	"<13>1 - - - - - [a b=\"c\"", "<13>1 - - - - - [a b=\"c\"][", "Nov", "Nov 22", "Nov 22 1", "Nov 22 10:00:0",
	"Nov 22 10:00:00.", "2026-11-22T10:00:00+", "2026-11-22T10:00:00+01:", "2026-11-22T10:00:00.+01:00",
	"<13>Nov 22 10:00:00 h tag[", "<13>Nov 22 10:00:00 h tag[1", "<13>Nov 22 10:00:00 h :", "<13>123:",
	"<13>Feb 29 10:00:00 h a: b", "\x00\x00\n", "<13>1 2026-11-22T10:00:00Z h a - - - \xef\xbb\xbf",
}

func FuzzParseRFC3164(f *testing.F) {
	for _, l := range append(seedLines(f), extraSeeds...) {
		f.Add([]byte(l))
	}
	loc := berlin(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := ParseRFC3164(line, testNow, loc)
		checkEvent(t, line, ev, err)
	})
}

func FuzzParseRFC5424(f *testing.F) {
	for _, l := range append(seedLines(f), extraSeeds...) {
		f.Add([]byte(l))
	}
	loc := berlin(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := ParseRFC5424(line, testNow, loc)
		checkEvent(t, line, ev, err)
	})
}

func FuzzParse(f *testing.F) {
	for _, l := range append(seedLines(f), extraSeeds...) {
		f.Add("auto", []byte(l))
	}
	f.Add("rfc5424", []byte("<13>Nov 22 10:00:00 h app: m"))
	for _, name := range Formats() {
		for _, l := range goldenLines(f, name) {
			f.Add(name, []byte(l))
		}
	}
	for _, l := range goldenLines(f, "auto", "sshd", "sudo", "postfix", "kernel") {
		f.Add("auto", []byte(l))
	}
	f.Add("nonsense", []byte("x"))
	loc := berlin(f)
	f.Fuzz(func(t *testing.T, format string, line []byte) {
		// Parse swallows panics, so call the detector directly too.
		ev, err := ParseSyslog(line, testNow, loc)
		checkEvent(t, line, ev, err)
		for _, p := range detectOrder {
			p(string(line), testNow, loc)
		}
		if p, ok := formats[format]; ok {
			p(string(line), testNow, loc)
		}
		ev = Parse(format, line, testNow, loc)
		if ev.Message == "" && len(trimEOL(line)) > 0 && ev.Severity == Unknown {
			t.Errorf("Parse(%q, %q) lost the line: %+v", format, line, ev)
		}
	})
}

// checkEvent asserts what must hold for any input: severity and facility
// in range, and every string taken from the line.
func checkEvent(t *testing.T, line []byte, ev Event, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrSyntax) {
			t.Fatalf("error %v does not match ErrSyntax", err)
		}
		return
	}
	if ev.Severity < Unknown || ev.Severity > 7 || ev.Facility < Unknown || ev.Facility > 23 {
		t.Fatalf("%q: severity %d facility %d out of range", line, ev.Severity, ev.Facility)
	}
	for _, s := range []string{ev.Host, ev.Program, ev.PID, ev.Message} {
		if !strings.Contains(string(line), s) {
			t.Fatalf("%q: %q is not part of the line", line, s)
		}
	}
}
