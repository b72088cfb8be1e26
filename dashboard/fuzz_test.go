package dashboard

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeSession feeds hostile cookie values to the session parser:
// no panic, and nothing but our own signature is accepted.
func FuzzDecodeSession(f *testing.F) {
	key := derive([]byte(strings.Repeat("k", 32)), "watchpost session mac v1")
	valid := encodeSession(key, &session{user: "alice", issued: time.Unix(1e9, 0), expires: time.Unix(1e9+3600, 0)})
	for _, s := range []string{valid, "", "AAAA", valid[:len(valid)-1], strings.Repeat("A", 200), "%%%", valid + "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, ok := decodeSession(key, v)
		if !ok {
			return
		}
		// Whatever decodes must re-encode to the same value.
		if again := encodeSession(key, s); again != v {
			t.Fatalf("accepted %q, which re-encodes as %q", v, again)
		}
	})
}

// FuzzLocalPath: whatever localPath accepts stays on this server.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/admin/", "//evil", "/\\evil", "https://x", "/a?next=//b", "/%2F%2Fevil", "/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		if !localPath(next) {
			return
		}
		u, err := url.Parse(next)
		if err != nil || u.Host != "" || u.Scheme != "" || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
			t.Fatalf("accepted %q", next)
		}
	})
}

// FuzzVisible: the output has no control characters (but tab), no bidi
// overrides, and is valid UTF-8.
func FuzzVisible(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[31mred", "a\u202eb", "\xff\xfe", "tab\tx", "é\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := visible(s)
		if !utf8.ValidString(out) {
			t.Fatalf("visible(%q) = %q: invalid UTF-8", s, out)
		}
		for _, r := range out {
			if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= '\u202a' && r <= '\u202e') ||
				(r >= '\u2066' && r <= '\u2069') || r == '\u2028' || r == '\u2029' {
				t.Fatalf("visible(%q) = %q keeps %U", s, out, r)
			}
		}
	})
}
