package checker

import (
	"bufio"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPOP3Status(t *testing.T) {
	tests := []struct {
		in, text, err string
	}{
		{"+OK", "", ""},
		{"+OK Dovecot (Debian) ready.", "Dovecot (Debian) ready.", ""},
		{"-ERR [AUTH] Authentication failed.", "", "-ERR [AUTH] Authentication failed."},
		{"-ERR", "", "-ERR "},
		{"+OKAY", "", "not a POP3 reply"},
		{"", "", "not a POP3 reply"},
		{"* OK IMAP4rev1", "", "not a POP3 reply"},
	}
	for _, tt := range tests {
		text, err := parsePOP3Status(tt.in)
		if tt.err == "" {
			if err != nil || text != tt.text {
				t.Errorf("%q: %q %v, want %q", tt.in, text, err, tt.text)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
			t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
		}
	}
}

func TestPOP3Multi(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
		cut      bool
		err      bool
	}{
		{"empty", ".\r\n", 100, "", false, false},
		{"dot-stuffed", "a\r\n..b\r\n.\r\n", 100, "a\r\n.b\r\n", false, false},
		{"bare LF", "a\n.\n", 100, "a\r\n", false, false},
		{"cut, still in step", "aaaa\r\nbbbb\r\n.\r\n", 7, "aaaa\r\n", true, false},
		{"no end", "a\r\nb\r\n", 100, "", false, true},
		{"line too long", strings.Repeat("x", pop3MaxLine+1) + "\r\n.\r\n", 1 << 20, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tt.in + "+OK next\r\n"))
			got, cut, err := readPOP3Multi(r, tt.max)
			if (err != nil) != tt.err {
				t.Fatalf("error %v", err)
			}
			if err != nil {
				return
			}
			if string(got) != tt.want || cut != tt.cut {
				t.Errorf("%q cut=%v, want %q cut=%v", got, cut, tt.want, tt.cut)
			}
			if l, _ := readPOP3Line(r); l != "+OK next" {
				t.Errorf("next line %q: out of step", l)
			}
		})
	}
	if _, err := readPOP3Line(bufio.NewReader(strings.NewReader(strings.Repeat("x", 10*pop3MaxLine)))); !errors.Is(err, errPOP3LineTooLong) {
		t.Errorf("long line: %v", err)
	}
}

func TestParseUIDL(t *testing.T) {
	got, err := parseUIDL([]byte("1 000000017a3f0c21\r\n2 000000027a3f0c21\r\n"), true)
	if err != nil || len(got) != 2 || got[1].n != 2 || got[1].uid != "000000027a3f0c21" {
		t.Errorf("%+v %v", got, err)
	}
	if got, err := parseUIDL([]byte("1 523\r\n"), false); err != nil || len(got) != 1 || got[0].uid != "" {
		t.Errorf("LIST: %+v %v", got, err)
	}
	if got, err := parseUIDL(nil, true); err != nil || len(got) != 0 {
		t.Errorf("empty: %+v %v", got, err)
	}
	for _, bad := range []string{"1\r\n", "0 abc\r\n", "x abc\r\n", "1 " + strings.Repeat("u", 71) + "\r\n", "1 a\x01b\r\n", "-1 a\r\n"} {
		if _, err := parseUIDL([]byte(bad), true); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	id := checkID("mx")
	cutoff := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	before := "Date: Sun, 01 Mar 2026 11:00:00 +0000\r\n"
	after := "Date: Sun, 01 Mar 2026 12:00:05 +0000\r\n"
	tests := []struct {
		name, hdr, token string
		want             verdict
	}{
		{"ours", "X-Watchpost-Check: " + id + "\r\nX-Watchpost-Probe: abc\r\n" + after, "abc", verdictOurs},
		{"ours, folded and lower-case", "x-watchpost-check:\r\n " + id + "\r\nx-watchpost-probe: abc\r\n\r\n", "abc", verdictOurs},
		{"stale", "X-Watchpost-Check: " + id + "\r\nX-Watchpost-Probe: old\r\n" + before, "abc", verdictStale},
		{"undated", "X-Watchpost-Check: " + id + "\r\nX-Watchpost-Probe: old\r\n", "abc", verdictStale},
		{"fresh", "X-Watchpost-Check: " + id + "\r\nX-Watchpost-Probe: other\r\n" + after, "abc", verdictFresh},
		{"sweeping, no token", "X-Watchpost-Check: " + id + "\r\nX-Watchpost-Probe:\r\n" + after, "", verdictFresh},
		{"another check", "X-Watchpost-Check: " + checkID("web") + "\r\nX-Watchpost-Probe: abc\r\n" + before, "abc", verdictOther},
		{"no marks", "Subject: hello\r\n" + before, "abc", verdictOther},
		{"garbage", "\x00\xff:::\r\n\r\n", "abc", verdictOther},
		{"empty", "", "abc", verdictOther},
	}
	for _, tt := range tests {
		if got := classify([]byte(tt.hdr), id, tt.token, cutoff); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzPOP3Replies feeds what a hostile server might send through the
// reply readers as the client uses them: a status line, a listing, a
// header block. Nothing may panic, and the readers stay in step.
func FuzzPOP3Replies(f *testing.F) {
	for _, s := range []string{
		"+OK ready\r\n1 000000017a3f0c21\r\n2 x\r\n.\r\nX-Watchpost-Check: 00\r\n..\r\n\r\n.\r\n",
		"-ERR [AUTH] Authentication failed.\r\n",
		"+OK\n.\n.\n",
		"+OK\r\n" + strings.Repeat("a", 5000) + "\r\n.\r\n",
		"+OK\r\n1 \x7f\r\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(strings.NewReader(string(data)))
		l, err := readPOP3Line(r)
		if err != nil {
			return
		}
		if len(l) > pop3MaxLine {
			t.Fatalf("line of %d bytes", len(l))
		}
		_, _ = parsePOP3Status(l)
		b, _, err := readPOP3Multi(r, 1024)
		if err != nil {
			return
		}
		if len(b) > 1024 {
			t.Fatalf("kept %d bytes past the limit", len(b))
		}
		msgs, err := parseUIDL(b, true)
		for _, m := range msgs {
			if err == nil && (m.n < 1 || m.uid == "" || len(m.uid) > 70) {
				t.Fatalf("bad entry %+v", m)
			}
		}
		if hdr, _, err := readPOP3Multi(r, pop3MaxHeader); err == nil {
			_ = classify(hdr, "0123456789abcdef", "tok", time.Unix(0, 0))
		}
	})
}

// FuzzClassify: any header block, cut anywhere, is classified without a
// panic, and only a block carrying both marks is ours.
func FuzzClassify(f *testing.F) {
	id := checkID("mx")
	f.Add([]byte("X-Watchpost-Check: "+id+"\r\nX-Watchpost-Probe: abc\r\nDate: Sun, 01 Mar 2026 11:00:00 +0000\r\n\r\n"), "abc")
	f.Add([]byte("Subject: x\r\n\r\nbody"), "")
	f.Add([]byte("X-Watchpost-Check: "+id+"\r\n continued\r\n"), "abc")
	f.Fuzz(func(t *testing.T, hdr []byte, token string) {
		v := classify(hdr, id, token, time.Unix(1e9, 0))
		if v == verdictOurs && (token == "" || !strings.Contains(strings.ToLower(string(hdr)), "x-watchpost-probe")) {
			t.Fatalf("ours without the marks: %q token %q", hdr, token)
		}
	})
}
