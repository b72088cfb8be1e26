package query

import (
	"strings"
	"testing"
)

var querySeeds = []string{
	"", "error", `"connection refused" host=web1`, `path~^/api/v\d+/ -path!~\.css$`,
	"status>=500 status<600 severity<=err", `"say \"hi\" \\" --v -"-"`, "a=b=c <html> 1=2",
	`msg~"timed? out" facility=local0`, "ünï \x00\xff weird=\x01", `"unterminated`, "- x",
	`host=""`, "x~(", "severity=8", `"a"b`, `a"b`, "k\u212a ſs ΣσςΐΪ",
}

func FuzzParse(f *testing.F) {
	for _, s := range querySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			return
		}
		s2 := q.String()
		q2, err := Parse(s2)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q fails: %v", s, s2, err)
		}
		if !q.Equal(q2) {
			t.Fatalf("Parse(%q) = %+v, Parse(%q) = %+v", s, q.Terms, s2, q2.Terms)
		}
		if s3 := q2.String(); s3 != s2 {
			t.Fatalf("String is not canonical: %q then %q", s2, s3)
		}
		q.Literals()
		q.FieldEquals("host")
		// The same text as shell arguments must not panic either.
		if qa, err := ParseArgs(strings.Split(s, " ")); err == nil {
			if qb, err := Parse(qa.String()); err != nil || !qa.Equal(qb) {
				t.Fatalf("ParseArgs(%q) does not round-trip via %q: %v", s, qa.String(), err)
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	for _, s := range querySeeds {
		f.Add(s, "Nov 22 10:00:01 web1 sshd[811]: Failed password for root from 203.0.113.9")
		f.Add(s, "Größe ΣΊΣΥΦΟΣ \xff\x1b[31m ſ \u212a 503")
	}
	f.Add(`message~"Killed process 4242[0-9] "`, "kernel: Out of memory: Killed process 42421 (mysqld)")
	f.Add(`message~"(?i)fail(ed|ure) for [a-z]+"`, "Failed password for root")
	f.Fuzz(func(t *testing.T, qs, line string) {
		q, err := Parse(qs)
		if err != nil {
			return
		}
		d := &doc{line: line, fields: map[string]string{
			"host": line, "path": line, "status": line, "severity": line, "facility": line, "message": line,
		}}
		matched := q.Match(d)
		for _, term := range q.Terms {
			if term.Kind != Word && term.Kind != Phrase {
				continue
			}
			nd := newNeedle(term.Value)
			if got, want := nd.in(line), refContains(line, term.Value); got != want {
				t.Fatalf("needle %q in %q = %v, reference says %v", term.Value, line, got, want)
			}
		}
		if !matched {
			return
		}
		// What the store's trigram index relies on: the ASCII runs of
		// every literal are in the ASCII-lowered line.
		low := lowerASCII(line)
		for _, l := range q.Literals() {
			for _, run := range asciiRuns(l) {
				if !strings.Contains(low, run) {
					t.Fatalf("query %q matched %q, but literal run %q is not in it", qs, line, run)
				}
			}
		}
	})
}

func asciiRuns(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r >= 0x80 })
}

func FuzzEscapeControl(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2J\x1b]0;title\a", "\u009b\u202e\xff\xc0\x80", "tab\tnl\n", "ünï ✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := EscapeControl(s)
		checkEscaped(t, s, out)
		if firstUnsafe(s) < 0 && out != s {
			t.Fatalf("EscapeControl changed the clean %q to %q", s, out)
		}
	})
}
