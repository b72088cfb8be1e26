package query

import (
	"testing"
	"unicode/utf8"
)

func TestEscapeControl(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text\twith tab", "plain text\twith tab"},
		{"ünïcödé ok ✓", "ünïcödé ok ✓"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"bell\a nul\x00 del\x7f nl\n cr\r", `bell\x07 nul\x00 del\x7f nl\x0a cr\x0d`},
		{"c1 \u009b31m \u0085", `c1 \u009b31m \u0085`},
		{"bad \xff\xfe utf8 \xe2\x82", `bad \xff\xfe utf8 \xe2\x82`},
		{"bidi \u202eevil\u202c \u2066x\u2069", `bidi \u202eevil\u202c \u2066x\u2069`},
		{"sep\u2028x", `sep\u2028x`},
		{"\ufffd real replacement char", "\ufffd real replacement char"},
	}
	for _, tt := range tests {
		if got := EscapeControl(tt.in); got != tt.want {
			t.Errorf("EscapeControl(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscapeControlNoAlloc(t *testing.T) {
	s := "Nov 22 10:00:01 web1 sshd[811]: Failed password for ünï from 203.0.113.9"
	if n := testing.AllocsPerRun(100, func() { EscapeControl(s) }); n != 0 {
		t.Errorf("EscapeControl of a clean line allocates %v times", n)
	}
}

// checkEscaped fails unless out is valid UTF-8 without anything a terminal
// would act on.
func checkEscaped(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("EscapeControl(%q) = %q: invalid UTF-8", in, out)
	}
	for _, r := range out {
		if r < 0x20 && r != '\t' || r == 0x7f || unsafeRune(r) {
			t.Fatalf("EscapeControl(%q) = %q: holds %U", in, out, r)
		}
	}
}
