package peers

import (
	"strings"
	"testing"
	"unicode"
)

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text\n\twith tab", "plain text\n\twith tab"},
		{"grüße ✓", "grüße ✓"},
		{"red \x1b[31m", `red \x1b[31m`},
		{"nul\x00bel\x07cr\r", `nul\x00bel\x07cr\x0d`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"c1 \u0085 bidi \u202e", `c1 \u0085 bidi \u202e`},
		{"del\x7f", `del\x7f`},
	}
	for _, tt := range tests {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCaptureKeepsTheTail(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"under the limit", []string{"abc", "def"}, "abcdef"},
		{"drops the oldest", []string{"abcdef", "ghij"}, "[... 2 earlier bytes dropped ...]\ncdefghij"},
		{"one huge write", []string{"0123456789abc"}, "[... 5 earlier bytes dropped ...]\n56789abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCapture(8)
			for _, w := range tt.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := c.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "ok\n", "\x1b]0;title\x07", "\xff", "a\u202eb", "\r\n\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Printable(s)
		for _, r := range out {
			if r != '\n' && r != '\t' && r != ' ' && !unicode.IsPrint(r) {
				t.Fatalf("Printable(%q) kept unprintable %q", s, r)
			}
		}
		if Printable(out) != out {
			t.Fatalf("Printable is not idempotent on %q", out)
		}
	})
}

func BenchmarkPrintable(b *testing.B) {
	line := strings.Repeat("Nov 22 21:37:02 web1 sshd[812]: Accepted publickey for root\n", 16)
	hostile := strings.Repeat("Nov 22 21:37:02 web1 x: \x1b[31m\xff bad\r\n", 16)
	for _, in := range []struct{ name, s string }{{"clean", line}, {"hostile", hostile}} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.s)))
			for b.Loop() {
				Printable(in.s)
			}
		})
	}
}

func BenchmarkFreePort(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		FreePort(b)
	}
}
