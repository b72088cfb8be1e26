package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAppend: what Append writes is JSON that decodes to the string
// (with U+FFFD for bytes that are not UTF-8), for strings and byte slices.
func TestAppend(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "a\nb\tc\rd\x00\x1f\x7f", "élise ✓ 🙂", "bad \xff\xfe utf8 \xe2\x82", "line\u2028sep\u2029", "<script>&"} {
		for _, out := range [][]byte{Append(nil, s), Append(nil, []byte(s))} {
			var got string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%q: %s: %v", s, out, err)
			}
			if want := eachInvalid(s); got != want {
				t.Errorf("%q: decoded %q, want %q", s, got, want)
			}
			if strings.ContainsAny(string(out), "\u2028\u2029") {
				t.Errorf("%q: raw line separator in %s", s, out)
			}
		}
	}
}

// eachInvalid is s with each byte that is not UTF-8 replaced by U+FFFD.
func eachInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\ufffd")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func FuzzAppend(f *testing.F) {
	f.Add("bad \xff utf8 \u2028")
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(Append(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got != eachInvalid(s) {
			t.Fatalf("%q decoded as %q", s, got)
		}
	})
}
